"""DistilledStudent and BaseDistiller on their own: the student side that
MLFDDistiller and AMTMLDistiller share."""
import copy

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope
from mmpretrain.structures import DataSample

from conftest import tiny_resnet
from mlfd_mm.models.distillers import (BaseDistiller, DistilledStudent,
                                       check_loss_weights,
                                       raw_data_preprocessor,
                                       student_data_preprocessor)

# ResNet-18, 4/8/16/32 channels at 8/4/2/1 px for 32 px input; the stock
# model outputs stage 3 only.
STUDENT = tiny_resnet(5, base_channels=4, mean_std=None)
MEAN, STD = [120., 110., 100.], [60., 61., 62.]


def _stock(cfg):
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(copy.deepcopy(cfg))


def _built_student(chosen=(1, 2), cfg=STUDENT, data_preprocessor=None):
    student = DistilledStudent(cfg, data_preprocessor or dict(mean=MEAN,
                                                              std=STD))
    seen = []

    def choose(stages):
        seen.append(stages)
        return list(chosen)

    torch.manual_seed(0)
    student.build(choose)
    return student, seen


# ----------------------------------------------------------------------
# configs
# ----------------------------------------------------------------------
def test_preprocessor_student_keys_override_the_dataset_ones():
    student = dict(STUDENT, data_preprocessor=dict(mean=[0.] * 3,
                                                   to_rgb=True))
    merged = student_data_preprocessor(
        student, dict(mean=MEAN, std=STD, num_classes=5))
    assert merged == dict(mean=[0.] * 3, std=STD, num_classes=5,
                          to_rgb=True, type='ClsDataPreprocessor')
    assert student_data_preprocessor(
        dict(type='Recognizer2D'), None, 'mmaction') == dict(
            type='ActionDataPreprocessor')


def test_raw_preprocessor_keeps_batch_layout_drops_normalisation():
    stock = dict(type='ActionDataPreprocessor', mean=MEAN, std=STD,
                 to_rgb=True, format_shape='NCTHW')
    raw = raw_data_preprocessor(stock, 'mmaction')
    assert raw == dict(type='ActionDataPreprocessor', mean=None, std=None,
                       to_rgb=False, format_shape='NCTHW',
                       _scope_='mmaction')
    assert stock['mean'] == MEAN  # the student's own config is untouched


def test_student_from_a_config_file(tmp_path):
    path = str(tmp_path / 'stage1.py')
    Config(dict(model=STUDENT, default_scope='mmpretrain',
                data_preprocessor=dict(mean=[1., 2., 3.],
                                       std=[4., 5., 6.]))).dump(path)
    student = DistilledStudent(path, dict(mean=MEAN, std=STD))
    assert student.scope == 'mmpretrain'
    assert student.preprocessor['mean'] == [1., 2., 3.]
    inputs = torch.full((1, 3, 2, 2), 9.)
    expected = (9. - torch.tensor([1., 2., 3.])) / torch.tensor([4., 5., 6.])
    assert torch.allclose(student.inputs(inputs)[0, :, 0, 0], expected)
    with pytest.raises(FileNotFoundError, match='student: config file not '
                       'found'):
        DistilledStudent(str(tmp_path / 'missing.py'))


def test_one_of_mean_and_std_is_an_error():
    with pytest.raises(ValueError, match=r'student: .*only one of mean'):
        DistilledStudent(STUDENT, dict(mean=MEAN))


# ----------------------------------------------------------------------
# the built student
# ----------------------------------------------------------------------
def test_build_records_the_chosen_stages_and_keeps_stock_outputs():
    student, seen = _built_student(chosen=(1, 2))
    assert seen == [[0, 1, 2, 3]]  # the chooser sees every stage
    assert student.model.backbone.out_indices == (1, 2, 3)
    assert student.stage_channels == {1: 8, 2: 16, 3: 32}
    assert student.stage_sizes == {1: (8, 8), 2: (4, 4), 3: (2, 2)}  # 64 px

    stock = _stock(STUDENT).eval()
    stock.load_state_dict(student.model.state_dict(), strict=True)
    student.model.eval()
    torch.manual_seed(1)
    inputs = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        logits = student.forward_tensor(inputs)
        # the neck receives exactly the stock backbone's outputs
        assert torch.equal(logits, stock(inputs, mode='tensor'))
        stock_maps = stock.backbone(inputs)
    assert sorted(student.features) == [1, 2, 3]
    assert torch.equal(student.features[3], stock_maps[0])
    assert student.features[1].shape == (2, 8, 4, 4)


def test_run_gives_head_losses_logits_and_features():
    student, _ = _built_student()
    torch.manual_seed(1)
    inputs = torch.randn(3, 3, 32, 32)
    samples = [DataSample().set_gt_label(k) for k in (0, 4, 2)]
    losses, logits, feats = student.run(inputs, samples)
    assert set(losses) == {'loss'}
    assert logits.shape == (3, 5)
    expected = nn.functional.cross_entropy(logits, torch.tensor([0, 4, 2]))
    assert torch.allclose(losses['loss'], expected)
    assert sorted(feats) == [1, 2, 3]

    losses, logits, feats = student.run(inputs)
    assert losses == {} and logits is None and sorted(feats) == [1, 2, 3]
    assert student.run(inputs[:0], samples[:0]) == ({}, None, None)


def test_build_errors_name_the_stage():
    student = DistilledStudent(STUDENT)
    with pytest.raises(ValueError, match=r'student stage 7 does not exist; '
                       r'the student backbone ResNet has stages '
                       r'\[0, 1, 2, 3\]'):
        student.build(lambda stages: [7])

    no_out_indices = copy.deepcopy(STUDENT)
    no_out_indices['backbone']['type'] = 'LeNet5'
    no_out_indices['backbone'].pop('depth')
    no_out_indices['backbone'].pop('stem_channels')
    no_out_indices['backbone'].pop('base_channels')
    with pytest.raises(ValueError, match='has no out_indices'):
        DistilledStudent(no_out_indices).build(lambda stages: [])


# ----------------------------------------------------------------------
# BaseDistiller: frozen children, modes, CE scaling
# ----------------------------------------------------------------------
class _Teacherless(BaseDistiller):
    """The smallest distiller: a frozen linear "teacher" and CE only."""

    frozen_children = ('teacher', )
    default_loss_weights = dict(ce=1.0)

    def __init__(self, student, **kwargs):
        super().__init__(student, **kwargs)
        self.teacher = nn.Linear(2, 2)
        for param in self.teacher.parameters():
            param.requires_grad_(False)
        self._build_student(lambda stages: [stages[-1]])

    def loss(self, inputs, data_samples):
        losses, _, _ = self.student_side.run(self.student_inputs(inputs),
                                             data_samples)
        return self._ce_losses(losses)


def _teacherless(**kwargs):
    torch.manual_seed(0)
    return _Teacherless(STUDENT, data_preprocessor=dict(mean=MEAN, std=STD),
                        **kwargs)


def test_frozen_children_out_of_init_weights_and_train():
    # An init_cfg on the distiller reaches every Linear it can see: the
    # teacher would be all 0.25 if it were in the tree.
    distiller = _teacherless(
        init_cfg=dict(type='Constant', layer='Linear', val=0.25))
    teacher_before = copy.deepcopy(distiller.teacher.state_dict())
    distiller.init_weights()
    for key, value in distiller.teacher.state_dict().items():
        assert torch.equal(value, teacher_before[key]), key
    distiller.train()
    assert distiller.student.training and not distiller.teacher.training


def test_modes_and_ce_weight():
    distiller = _teacherless(loss_weights=dict(ce=0.5)).eval()
    torch.manual_seed(1)
    inputs = torch.rand(2, 3, 32, 32) * 255
    samples = [DataSample().set_gt_label(k) for k in (1, 3)]
    normalised = (inputs - torch.tensor(MEAN).view(3, 1, 1)) / torch.tensor(
        STD).view(3, 1, 1)
    with torch.no_grad():
        logits = distiller(inputs, mode='tensor')
        assert torch.allclose(logits,
                              distiller.student(normalised, mode='tensor'))
        predictions = distiller(inputs, samples, mode='predict')
        losses = distiller(inputs, samples, mode='loss')
    assert torch.allclose(torch.stack([p.pred_score for p in predictions]),
                          logits.softmax(-1))
    ce = nn.functional.cross_entropy(logits, torch.tensor([1, 3]))
    assert torch.allclose(losses['loss_ce'], 0.5 * ce)
    with pytest.raises(RuntimeError, match='Invalid mode "features"'):
        distiller(inputs, mode='features')
    assert _teacherless(loss_weights=dict(ce=0.))(
        inputs, samples, mode='loss') == {}


def test_ce_scaling_renames_and_scales_every_head_loss():
    distiller = _teacherless(loss_weights=dict(ce=0.5))
    losses = distiller._ce_losses(dict(
        loss_cls=torch.tensor(2.), loss_aux=[torch.tensor(4.)],
        top1_acc=torch.tensor(0.75)))
    assert losses == dict(loss_ce=torch.tensor(1.),
                          loss_ce_loss_aux=[torch.tensor(2.)],
                          top1_acc=torch.tensor(0.75))


def test_check_loss_weights():
    assert check_loss_weights(dict(kd=0), dict(kd=1., ce=1.), 'X') == dict(
        kd=0., ce=1.)
    with pytest.raises(KeyError, match=r"X: unknown loss_weights \['kdd'\]"):
        check_loss_weights(dict(kdd=1), dict(kd=1.), 'X')
    with pytest.raises(ValueError, match=r"X: .*>= 0, got \{'kd': -1.0\}"):
        check_loss_weights(dict(kd=-1), dict(kd=1.), 'X')
