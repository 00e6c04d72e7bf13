"""MLFDDistiller on a real JointTeacher of two tiny random teachers."""
import copy
import os.path as osp

import mlfd_mm  # noqa: F401  (compat fixes before torchvision)
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope
from mmpretrain.structures import DataSample

from conftest import (MEAN, PAIRS, REPO, STD, distiller_config,
                      make_image_folder, make_joint_teacher, narrow_resnet,
                      state_copy)
from mlfd_mm.models.losses import KDLoss



def build_distiller(teacher, **kwargs):
    kwargs.setdefault('student', narrow_resnet(5))
    kwargs.setdefault('dataset', 'shapes')
    kwargs.setdefault('data_preprocessor', dict(mean=MEAN, std=STD))
    torch.manual_seed(0)
    return MODELS.build(dict(type='MLFDDistiller', teacher=teacher,
                             **kwargs))


@pytest.fixture(scope='module')
def teacher(tmp_path_factory):
    return make_joint_teacher(tmp_path_factory.mktemp('joint'))


def test_loss_terms_match_their_definitions(teacher, batch):
    inputs, samples, labels = batch
    distiller = build_distiller(teacher, distill=PAIRS, temperature=3.0)
    losses = distiller(inputs, samples, mode='loss')
    assert sorted(losses) == [
        'loss_ce', 'loss_feature_s0_l1', 'loss_feature_s2_l2',
        'loss_feature_s3_l3', 'loss_kd']

    student_logits = distiller(inputs, mode='tensor')
    assert student_logits.shape == (4, 5)
    with torch.no_grad():
        joint = distiller.teacher(inputs, mode='tensor')
    teacher_logits = joint['logits'][1]  # 'shapes' is the second dataset
    expected_kd = 0.6 * KDLoss(temperature=3.0)(student_logits,
                                                teacher_logits)
    assert losses['loss_kd'].item() == pytest.approx(expected_kd.item(),
                                                     rel=1e-5)
    expected_ce = 0.2 * F.cross_entropy(student_logits,
                                        torch.tensor(labels))
    assert losses['loss_ce'].item() == pytest.approx(expected_ce.item(),
                                                     rel=1e-5)

    # feature terms: weight 0.2 shared by the 3 pairs, MSE after connector
    student_feats = distiller.student_side.features
    for (stage, level), connector in zip(distiller.pairs,
                                         distiller.connectors):
        target = joint['features'][level]
        mapped = connector(student_feats[stage], target.shape[-2:])
        assert mapped.shape == target.shape
        expected = 0.2 / 3 * F.mse_loss(mapped, target)
        key = f'loss_feature_s{stage}_l{level + 1}'
        assert losses[key].item() == pytest.approx(expected.item(), rel=1e-5)


def test_connectors_created_only_where_channels_differ(teacher):
    # student stages 0..3: 4/8/16/32 channels; joint levels: 8 channels
    distiller = build_distiller(
        teacher, distill=[(0, 'l1'), (1, 'l1'), (3, 'l3')])
    assert distiller.teacher.level_channels == [8, 8, 8]
    projections = [c.project is not None for c in distiller.connectors]
    assert projections == [True, False, True]
    conv = distiller.connectors[2].project[0]
    assert (conv.in_channels, conv.out_channels) == (32, 8)


def test_auto_pairs_deepest_stages_with_levels(teacher):
    distiller = build_distiller(teacher)  # distill='auto'
    assert distiller.pairs == [(1, 0), (2, 1), (3, 2)]


def test_weights_respected_and_zero_terms_skipped(teacher, batch):
    inputs, samples, _ = batch
    no_kd = build_distiller(teacher, distill=PAIRS,
                            loss_weights=dict(kd=0.))
    losses = no_kd(inputs, samples, mode='loss')
    assert 'loss_kd' not in losses and 'loss_ce' in losses

    no_feature = build_distiller(teacher, distill=PAIRS,
                                 loss_weights=dict(feature=0.))
    assert len(no_feature.connectors) == 0
    assert sorted(no_feature(inputs, samples, mode='loss')) == [
        'loss_ce', 'loss_kd']

    ce_only = build_distiller(teacher, distill=PAIRS,
                              loss_weights=dict(kd=0., feature=0., ce=1.))

    def must_not_run(*args, **kwargs):
        raise AssertionError('the teacher ran although no loss needs it')

    ce_only.teacher.forward = must_not_run
    losses = ce_only(inputs, samples, mode='loss')
    assert sorted(losses) == ['loss_ce']
    # weight 1 vs default 0.2 on the same student weights
    default = build_distiller(teacher, distill=PAIRS)
    default.student.load_state_dict(ce_only.student.state_dict())
    assert losses['loss_ce'].item() == pytest.approx(
        5 * default(inputs, samples, mode='loss')['loss_ce'].item(),
        rel=1e-5)

    with pytest.raises(KeyError, match="unknown loss_weights \\['mse'\\]"):
        build_distiller(teacher, loss_weights=dict(mse=1.))
    with pytest.raises(ValueError, match=r"MLFDDistiller: .*>= 0.*'ce'"):
        build_distiller(teacher, loss_weights=dict(ce=-1.))


def test_gradients_reach_student_and_connectors_not_teacher(teacher, batch):
    inputs, samples, _ = batch
    distiller = build_distiller(teacher, distill=PAIRS)
    distiller.train()
    assert not distiller.teacher.training
    assert all(not m.training for m in distiller.teacher.modules())
    teacher_before = state_copy(distiller.teacher)
    student_before = state_copy(distiller.student)
    trainable = [p for p in distiller.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(trainable, lr=0.1)
    losses = distiller(inputs, samples, mode='loss')
    sum(losses.values()).backward()
    optimizer.step()

    assert all(p.grad is None for p in distiller.teacher.parameters())
    assert not any(p.requires_grad for p in distiller.teacher.parameters())
    for key, value in state_copy(distiller.teacher).items():
        assert torch.equal(value, teacher_before[key]), key  # incl. BN stats
    connector_grads = [p.grad for c in distiller.connectors
                       for p in c.parameters()]
    assert connector_grads and all(
        g is not None and g.abs().sum() > 0 for g in connector_grads)
    changed = [k for k, v in state_copy(distiller.student).items()
               if not torch.equal(v, student_before[k])]
    assert any(k.startswith('backbone.layer1') for k in changed)
    assert any(k.startswith('head.fc') for k in changed)


def test_feature_loss_alone_trains_student_stages(teacher, batch):
    inputs, samples, _ = batch
    distiller = build_distiller(teacher, distill=[(1, 'l1')],
                                loss_weights=dict(kd=0., ce=0.))
    losses = distiller(inputs, samples, mode='loss')
    assert sorted(losses) == ['loss_feature_s1_l1']
    losses['loss_feature_s1_l1'].backward()
    grads = {n: p.grad for n, p in distiller.student.named_parameters()}
    assert grads['backbone.layer1.0.conv1.weight'].abs().sum() > 0
    # stages after the distilled one get no gradient from it
    assert grads['backbone.layer3.0.conv1.weight'] is None


def test_feature_only_samples_of_other_datasets(teacher):
    """Images of another dataset add feature distillation only: CE and KD
    come from the student's own samples alone."""
    torch.manual_seed(2)
    inputs = torch.rand(4, 3, 32, 32) * 255
    names = ['digits', 'shapes', 'digits', 'shapes']
    samples = [DataSample(metainfo=dict(dataset_name=n)).set_gt_label(k)
               for n, k in zip(names, [2, 3, 0, 4])]
    distiller = build_distiller(teacher, distill=PAIRS,
                                feature_only_datasets=['digits'])
    losses = distiller(inputs, samples, mode='loss')
    assert sorted(losses) == [
        'loss_ce', 'loss_feature_s0_l1', 'loss_feature_s2_l2',
        'loss_feature_s3_l3', 'loss_kd']

    own = [1, 3]
    own_only = distiller(inputs[own], [samples[i] for i in own], mode='loss')
    for key in ('loss_ce', 'loss_kd'):
        assert losses[key].item() == pytest.approx(own_only[key].item(),
                                                   rel=1e-5)
    # the same images grouped own-first give the same feature losses: each
    # student map met the teacher map of its own image
    grouped = [1, 3, 0, 2]
    regrouped = distiller(inputs[grouped], [samples[i] for i in grouped],
                          mode='loss')
    for key, value in losses.items():
        assert value.item() == pytest.approx(regrouped[key].item(),
                                             rel=1e-5), key
    # feature distillation covers the other dataset's images too
    assert losses['loss_feature_s3_l3'].item() != pytest.approx(
        own_only['loss_feature_s3_l3'].item(), rel=1e-3)

    with pytest.raises(ValueError, match="dataset 'digits'.*"
                       r"feature_only_datasets \[\]"):
        build_distiller(teacher, distill=PAIRS)(inputs, samples, mode='loss')


def test_init_weights_leaves_teacher_alone(teacher):
    distiller = build_distiller(teacher, distill=PAIRS)
    before = state_copy(distiller.teacher)
    student_before = state_copy(distiller.student)
    distiller.init_weights()
    for key, value in state_copy(distiller.teacher).items():
        assert torch.equal(value, before[key]), key
    assert any(not torch.equal(v, student_before[k])
               for k, v in state_copy(distiller.student).items())


def test_student_is_the_stock_classifier(teacher, batch):
    """The student's data flow equals the stock model's (original
    out_indices) on the normalised input, and its keys are stock keys."""
    inputs, samples, _ = batch
    student_cfg = narrow_resnet(5)
    distiller = build_distiller(teacher, student=student_cfg, distill=PAIRS)
    assert distiller.student.backbone.out_indices == (0, 2, 3)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        stock = MODELS.build(copy.deepcopy(student_cfg))
    assert stock.backbone.out_indices == (3, )
    stock.load_state_dict(distiller.student.state_dict(), strict=True)
    distiller.eval()
    stock.eval()
    normalised = (inputs - torch.tensor(MEAN).view(3, 1, 1)) / torch.tensor(
        STD).view(3, 1, 1)
    assert torch.allclose(distiller.student_inputs(inputs), normalised)
    with torch.no_grad():
        expected = stock(normalised, mode='tensor')
        assert torch.allclose(distiller(inputs, mode='tensor'), expected,
                              atol=1e-6)
        predictions = distiller(inputs, samples, mode='predict')
    assert [type(p) for p in predictions] == [DataSample] * 4
    scores = torch.stack([p.pred_score for p in predictions])
    assert torch.allclose(scores, expected.softmax(-1), atol=1e-6)
    assert [int(p.pred_label) for p in predictions] == \
        expected.argmax(-1).tolist()


def test_student_config_preprocessor_overrides_dataset_one(teacher, batch):
    inputs, _, _ = batch
    student = narrow_resnet(5)
    student['data_preprocessor'] = dict(mean=[0.] * 3, std=[255.] * 3,
                                        to_rgb=True)
    distiller = build_distiller(teacher, student=student)
    assert distiller.student_side.preprocessor['mean'] == [0.] * 3
    expected = inputs.flip(1) / 255.
    assert torch.allclose(distiller.student_inputs(inputs), expected)
    # the joint teacher still gets raw, unflipped pixels
    data = distiller.data_preprocessor(
        dict(inputs=[torch.full((3, 2, 2), 200, dtype=torch.uint8)]))
    assert torch.equal(data['inputs'], torch.full((1, 3, 2, 2), 200.))


def test_student_from_a_stage1_config_file(teacher, tmp_path):
    """A student given as the dataset's teacher config file: its model
    (fresh) and its top-level data_preprocessor."""
    model = narrow_resnet(5)
    path = str(tmp_path / 'stage1_shapes.py')
    Config(dict(model=model, default_scope='mmpretrain',
                data_preprocessor=dict(mean=[1., 2., 3.],
                                       std=[4., 5., 6.]))).dump(path)
    distiller = build_distiller(teacher, student=path)
    assert distiller.student_side.preprocessor['mean'] == [1., 2., 3.]
    assert distiller.student.backbone.base_channels == 4
    with pytest.raises(FileNotFoundError, match='student: config file not '
                       'found: .*missing_teacher.py'):
        build_distiller(teacher, student=str(tmp_path / 'missing_teacher.py'))


def test_teacher_accuracy_counts(teacher, batch):
    inputs, samples, labels = batch
    distiller = build_distiller(teacher, distill=PAIRS).eval()
    with torch.no_grad():
        logits = distiller.teacher(inputs, mode='tensor')['logits'][1]
        distiller.start_teacher_accuracy()
        distiller(inputs, samples, mode='predict')
    counts = distiller.stop_teacher_accuracy()
    top5 = logits.topk(5, dim=-1).indices
    assert counts == dict(
        top1=float((logits.argmax(-1) == torch.tensor(labels)).sum()),
        top5=float((top5 == torch.tensor(labels)[:, None]).any(1).sum()),
        total=4.)
    assert distiller.stop_teacher_accuracy() is None


# ----------------------------------------------------------------------
# errors
# ----------------------------------------------------------------------
def test_unknown_student_stage(teacher):
    with pytest.raises(ValueError) as err:
        build_distiller(teacher, distill=[(5, 'l1')])
    message = str(err.value)
    assert 'student stage 5 does not exist' in message
    assert '[0, 1, 2, 3]' in message


def test_unknown_teacher_level(teacher):
    with pytest.raises(ValueError) as err:
        build_distiller(teacher, distill=[(3, 'l4')])
    assert "teacher level 'l4' does not exist" in str(err.value)
    assert "['l1', 'l2', 'l3']" in str(err.value)
    with pytest.raises(ValueError, match='lower case'):
        build_distiller(teacher, distill=[(3, 'L3')])
    with pytest.raises(ValueError, match='pair'):
        build_distiller(teacher, distill=[('stage3', 'l3')])


def test_unknown_dataset(teacher):
    with pytest.raises(ValueError) as err:
        build_distiller(teacher, dataset='cifar')
    assert "dataset='cifar'" in str(err.value)
    assert "['digits', 'shapes']" in str(err.value)
    with pytest.raises(ValueError, match='0..1'):
        build_distiller(teacher, dataset=2)
    assert build_distiller(teacher, dataset=1).dataset_name == 'shapes'


def test_cross_dataset_student_gets_features_and_ce_only(teacher, batch):
    """dataset=None: a dataset the joint teacher was not trained on (7
    classes here, against its 3 and 5). No joint head, so no KD: the
    distiller says so unless kd is 0, and then trains on features and CE."""
    with pytest.raises(ValueError, match=r"loss_weights.kd=0.*\(got 0.6\)"):
        build_distiller(teacher, dataset=None, student=narrow_resnet(7))
    distiller = build_distiller(
        teacher, dataset=None, student=narrow_resnet(7),
        loss_weights=dict(kd=0., feature=1., ce=1.))
    assert distiller.dataset_index is None
    inputs, samples, _ = batch
    losses = distiller(inputs, samples, mode='loss')
    assert 'loss_kd' not in losses and 'loss_ce' in losses
    assert len([k for k in losses if k.startswith('loss_feature')]) == 3
    distiller.start_teacher_accuracy()
    distiller.predict(inputs, samples)
    assert distiller.stop_teacher_accuracy()['total'] == 0


def test_missing_teacher_checkpoint(teacher, tmp_path):
    missing = str(tmp_path / 'nowhere' / 'joint_best.pth')
    with pytest.raises(FileNotFoundError) as err:
        build_distiller(dict(teacher, checkpoint=missing))
    assert missing in str(err.value)
    assert 'teacher.checkpoint' in str(err.value)
    with pytest.raises(FileNotFoundError, match='joint_offline_missing.py'):
        build_distiller(dict(teacher, config='configs/mlfd/'
                             'joint_offline_missing.py'))


def test_mismatched_teacher_checkpoint(teacher, tmp_path):
    path = str(tmp_path / 'stage1.pth')
    torch.save({'state_dict': {'backbone.conv1.weight': torch.zeros(1)}},
               path)
    with pytest.raises(RuntimeError) as err:
        build_distiller(dict(teacher, checkpoint=path))
    message = str(err.value)
    assert f'teacher.checkpoint {path} does not match' in message
    assert 'JointTeacher' in message
    assert 'missing (' in message and 'teachers.0.backbone' in message
    assert 'unexpected (1): backbone.conv1.weight' in message


def test_class_count_mismatch(teacher):
    with pytest.raises(ValueError, match="'shapes' has 5"):
        build_distiller(teacher, student=narrow_resnet(7))


def test_joint_checkpoint_suffices_without_stage1_files(teacher, tmp_path,
                                                        batch):
    """The joint checkpoint holds the teachers' weights: stage-1 files that
    are gone are not needed."""
    inputs, _, _ = batch
    reference = build_distiller(teacher).eval()
    config = copy.deepcopy(teacher['config'])
    for spec in config['teachers']:
        spec['checkpoint'] = str(tmp_path / 'deleted.pth')
    distiller = build_distiller(dict(teacher, config=config)).eval()
    with torch.no_grad():
        a = reference.teacher(inputs, mode='tensor')['logits'][1]
        b = distiller.teacher(inputs, mode='tensor')['logits'][1]
    assert torch.equal(a, b)


def test_joint_config_file_with_auto_teacher_checkpoints(teacher, tmp_path,
                                                         batch):
    """A joint config file whose teachers say checkpoint='auto', with no
    stage-1 run to find: the joint checkpoint gives their weights, and
    without one the teachers keep random weights (build tests)."""
    joint = copy.deepcopy(teacher['config'])
    for spec in joint['teachers']:
        path = str(tmp_path / f'stage1_{spec["name"]}.py')
        Config(dict(model=spec['config'], default_scope='mmpretrain')).dump(
            path)
        spec.update(config=path, checkpoint='auto')
    joint_path = str(tmp_path / 'joint.py')
    Config(dict(model=joint)).dump(joint_path)
    inputs, _, _ = batch
    reference = build_distiller(teacher).eval()
    distiller = build_distiller(dict(teacher, config=joint_path)).eval()
    with torch.no_grad():
        expected = reference.teacher(inputs, mode='tensor')['logits']
        logits = distiller.teacher(inputs, mode='tensor')['logits']
    assert all(torch.equal(a, b) for a, b in zip(expected, logits))
    random = build_distiller(dict(config=joint_path, checkpoint=None))
    assert random.teacher.dataset_names == ['digits', 'shapes']


# ----------------------------------------------------------------------
# a real training run
# ----------------------------------------------------------------------
def test_runner_trains_validates_and_reports_teacher(teacher, tmp_path):
    from mmengine.runner import Runner
    data_root = make_image_folder(tmp_path / 'data')
    cfg = Config(distiller_config(teacher, data_root, tmp_path / 'work'))
    runner = Runner.from_cfg(cfg)
    teacher_before = state_copy(runner.model.teacher)
    measured = []
    real_start = runner.model.start_teacher_accuracy

    def counting_start():
        measured.append(runner.epoch)
        real_start()

    runner.model.start_teacher_accuracy = counting_start
    runner.train()
    # frozen through a whole run, init_weights included
    for key, value in state_copy(runner.model.teacher).items():
        assert torch.equal(value, teacher_before[key]), key
    # the teacher is measured at the first validation only
    assert measured == [1]
    hub = runner.message_hub
    teacher_top1 = hub.get_scalar('val/joint_teacher/accuracy_top1')
    # recompute: teacher head 'shapes' on the same 10 images
    model = runner.model.eval()
    hits = total = 0
    for data in runner.val_dataloader:
        data = model.data_preprocessor(data, False)
        with torch.no_grad():
            logits = model.teacher(data['inputs'], mode='tensor')['logits'][1]
        labels = torch.cat([s.gt_label for s in data['data_samples']])
        hits += int((logits.argmax(-1) == labels).sum())
        total += len(labels)
    assert teacher_top1.current() == pytest.approx(100 * hits / total)
    assert osp.isfile(osp.join(str(tmp_path / 'work'), 'epoch_2.pth'))
    assert 'accuracy/top1' in {k.split('val/')[-1]
                               for k in hub.log_scalars}


# ----------------------------------------------------------------------
# the offline student configs
# ----------------------------------------------------------------------
def _in_repo(path):
    """A config's path, relative to the repository root or absolute (with
    '..' from the config's own directory), as one absolute path."""
    return osp.normpath(osp.join(REPO, path))


def _random_joint(config):
    """The joint teacher of a joint config, without stage-1 checkpoints
    (random teachers: no stage-1 runs here)."""
    joint = Config.fromfile(_in_repo(config)).model.to_dict()
    for spec in joint['teachers']:
        spec['checkpoint'] = None
    return joint


def _student_from_config(path, joint=None):
    """A student config (path in the repository) and its distiller, taught
    by ``joint`` (a JointTeacher model config) or by its own joint config's
    teacher, with random weights either way."""
    cfg = Config.fromfile(_in_repo(path))
    model_cfg = cfg.model.to_dict()
    model_cfg['teacher'] = dict(
        config=joint or _random_joint(cfg.model.teacher.config),
        checkpoint=None)
    model_cfg['data_preprocessor'] = cfg.data_preprocessor.to_dict()
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return cfg, MODELS.build(model_cfg)


@pytest.mark.parametrize('config,name,pairs', [
    ('student_offline_mnist', 'mnist', [(1, 0), (2, 1), (3, 2)]),
    ('student_offline_fashion', 'fashion', [(2, 0), (3, 1), (4, 2)]),
    ('student_offline_animals', 'animals', [(1, 0), (2, 1), (3, 2)]),
    ('student_offline_mnist_unlabeled', 'mnist', [(1, 0), (2, 1), (3, 2)]),
])
def test_offline_student_configs(config, name, pairs):
    """Each offline student config builds (random joint teacher), trains a
    step, and its student is the stock model of the dataset's teacher
    config."""
    cfg, distiller = _student_from_config(f'configs/mlfd/{config}.py')
    assert cfg.model.dataset == name
    assert distiller.pairs == pairs
    assert distiller.dataset_name == name

    torch.manual_seed(0)
    inputs = torch.rand(2, 3, 32, 32) * 255
    other = 'fashion' if distiller.feature_only_datasets else name
    samples = [DataSample(metainfo=dict(dataset_name=n)).set_gt_label(k)
               for n, k in ((name, 1), (name, 7), (other, 3))]
    losses = distiller(torch.cat([inputs, inputs[:1]]), samples,
                       mode='loss')
    assert {'loss_ce', 'loss_kd'} <= set(losses)
    assert len([k for k in losses if k.startswith('loss_feature')]) == 3
    assert all(torch.isfinite(v) for v in losses.values())

    teacher_cfg = Config.fromfile(_in_repo(cfg.model.student))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        stock = MODELS.build(teacher_cfg.model)
    stock.load_state_dict(distiller.student.state_dict(), strict=True)
    stock.eval()
    distiller.eval()
    mean = torch.tensor(teacher_cfg.data_preprocessor.mean).view(3, 1, 1)
    std = torch.tensor(teacher_cfg.data_preprocessor.std).view(3, 1, 1)
    with torch.no_grad():
        assert torch.allclose(distiller(inputs, mode='tensor'),
                              stock((inputs - mean) / std, mode='tensor'),
                              atol=1e-5)


def test_cross_dataset_digits_config():
    """configs/mlfd/student_offline_digits_cross.py builds against the
    offline joint teacher (random weights), which has no digits head: CE and
    three feature terms, no KD; its pipeline reuses the offline stages."""
    _, distiller = _student_from_config(
        'configs/mlfd/student_offline_digits_cross.py')
    assert distiller.dataset_index is None
    assert 'digits' not in distiller.teacher.dataset_names
    torch.manual_seed(0)
    samples = [DataSample().set_gt_label(k) for k in (3, 9)]
    losses = distiller(torch.rand(2, 3, 32, 32) * 255, samples, mode='loss')
    assert 'loss_kd' not in losses and 'loss_ce' in losses
    assert len([k for k in losses if k.startswith('loss_feature')]) == 3
    pipe = Config.fromfile(
        _in_repo('configs/pipelines/offline_cross_dataset.py'))
    assert _in_repo(pipe.stages_of) == _in_repo(
        'configs/pipelines/offline.py')
    assert list(pipe.students) == ['digits']
    assert 'digits' in pipe.teachers


@pytest.mark.parametrize('level', [1, 2, 4])
def test_offline_level_ablation_configs(level):
    """Each level-ablation pipeline: a joint teacher at L<k> and 'auto'
    students that distil all k levels, deepest student stage with the
    deepest level; the stage-1 teachers are shared with the offline run."""
    pipe = Config.fromfile(
        _in_repo(f'configs/pipelines/offline_levels_L{level}.py'))
    assert _in_repo(pipe.stages_of) == _in_repo(
        'configs/pipelines/offline.py')
    assert pipe.teachers == Config.fromfile(_in_repo(pipe.stages_of)).teachers
    joint = _random_joint(pipe.joint_teacher)
    assert joint['levels'] == f'L{level}'
    for name, path in pipe.students.items():
        _, distiller = _student_from_config(path, joint)
        assert distiller.dataset_name == name
        assert [lvl for _, lvl in distiller.pairs] == list(range(level))
        stages = [s for s, _ in distiller.pairs]
        assert stages == sorted(stages) and len(set(stages)) == level
