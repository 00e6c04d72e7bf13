"""SharedBackboneClassifier, the "jointly trained on all datasets at once"
baseline: losses and gradients per dataset, predictions from the sample's own
head, and a short Runner training of configs/baselines/joint_all_offline.py
on small real offline data."""
import mlfd_mm  # noqa: F401  (compat fixes before torchvision is imported)

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmpretrain.structures import DataSample

from mlfd_mm.config import complete_joint_loaders
from mlfd_mm.models import SharedBackboneClassifier
from conftest import REPO

NAMES = ['digits', 'shapes', 'scenes']
CLASSES = [3, 5, 4]


@pytest.fixture(autouse=True, scope='module')
def mmpretrain_scope():
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        yield


def tiny_backbone():
    """ResNet_CIFAR-18 with 4/8/16/32 channels (32 at the deepest stage)."""
    return dict(type='ResNet_CIFAR', depth=18, stem_channels=8,
                base_channels=4, _scope_='mmpretrain')


def make_model(**kwargs):
    kwargs.setdefault('neck', dict(type='GlobalAveragePooling',
                                   _scope_='mmpretrain'))
    kwargs.setdefault('data_preprocessor', dict(
        type='ClsDataPreprocessor', _scope_='mmpretrain',
        mean=[100., 110., 120.], std=[50., 60., 70.]))
    torch.manual_seed(0)
    model = SharedBackboneClassifier(
        backbone=tiny_backbone(), dataset_names=NAMES, num_classes=CLASSES,
        **kwargs)
    model.init_weights()
    return model


def samples(dataset_idx, labels):
    out = []
    for i, label in zip(dataset_idx, labels):
        sample = DataSample().set_gt_label(label)
        sample.set_metainfo(dict(dataset_idx=i, dataset_name=NAMES[i]))
        out.append(sample)
    return out


def test_tensor_mode_shapes():
    model = make_model().eval()
    assert model.head.in_channels == 32  # found from the backbone
    out = model(torch.randn(2, 3, 32, 32), mode='tensor')
    assert [tuple(f.shape) for f in out['features']] == [(2, 32, 1, 1)]
    assert [tuple(x.shape) for x in out['logits']] == [(2, 3), (2, 5),
                                                       (2, 4)]


def test_gap_neck_equals_head_pooling():
    """The head pools maps itself; a GAP neck's (N, C) output reaches it as
    (N, C, 1, 1) and gives the same logits."""
    with_neck = make_model().eval()
    without = make_model(neck=None).eval()
    without.load_state_dict(with_neck.state_dict())
    x = torch.randn(2, 3, 32, 32)
    assert without(x, mode='tensor')['features'][-1].shape[-1] == 4
    for a, b in zip(with_neck(x, mode='tensor')['logits'],
                    without(x, mode='tensor')['logits']):
        torch.testing.assert_close(a, b)


def test_loss_is_own_head_and_gradients_reach_backbone():
    model = make_model().train()
    inputs = torch.randn(4, 3, 32, 32)
    data = samples([0, 2, 2, 0], [2, 3, 0, 1])  # no 'shapes' sample
    losses = model(inputs, data, mode='loss')
    assert set(losses) == {'loss_digits', 'loss_shapes', 'loss_scenes'}
    assert losses['loss_shapes'].item() == 0.0
    total = sum(losses.values())
    assert torch.isfinite(total) and total > 0
    total.backward()

    backbone_grads = [p.grad for p in model.backbone.parameters()]
    assert all(g is not None and torch.isfinite(g).all()
               for g in backbone_grads)
    assert sum(g.abs().sum() for g in backbone_grads) > 0
    digits_fc, shapes_fc, scenes_fc = model.head.fcs
    assert digits_fc.weight.grad.abs().sum() > 0
    assert scenes_fc.weight.grad.abs().sum() > 0
    assert torch.count_nonzero(shapes_fc.weight.grad) == 0
    assert torch.count_nonzero(shapes_fc.bias.grad) == 0

    # The value: each sample's cross-entropy on its own head, / batch size.
    model.eval()
    logits = model(inputs, mode='tensor')['logits']
    losses = model.loss(inputs, data)
    expected = F.cross_entropy(
        logits[2][[1, 2]], torch.tensor([3, 0]), reduction='sum') / 4
    torch.testing.assert_close(losses['loss_scenes'], expected)


def test_predict_uses_own_head():
    model = make_model().eval()
    # Head i always answers class winners[i].
    winners = (1, 4, 2)
    for fc, winner in zip(model.head.fcs, winners):
        torch.nn.init.zeros_(fc.weight)
        torch.nn.init.zeros_(fc.bias)
        fc.bias.data[winner] = 5.0
    data = samples([0, 1, 2, 1], [0, 0, 0, 0])
    # The name wins over the index, as in JointTeacher.
    data[3].set_metainfo(dict(dataset_idx=0, dataset_name='scenes'))
    out = model(torch.randn(4, 3, 32, 32), data, mode='predict')
    assert [s.dataset_name for s in out] == ['digits', 'shapes', 'scenes',
                                             'scenes']
    assert [s.dataset_idx for s in out] == [0, 1, 2, 2]
    assert [len(s.pred_score) for s in out] == [3, 5, 4, 4]
    assert [int(s.pred_label) for s in out] == [1, 4, 2, 2]


def test_val_step_normalises():
    """The data preprocessor applies the shared mean/std before the
    backbone: a batch at the mean gives the logits of a zero input."""
    model = make_model().eval()
    mean = torch.tensor([100., 110., 120.]).view(3, 1, 1).expand(3, 32, 32)
    batch = dict(inputs=[mean.clone(), mean.clone()],
                 data_samples=samples([0, 1], [0, 0]))
    out = model.val_step(batch)
    zero = model(torch.zeros(1, 3, 32, 32), mode='tensor')['logits']
    torch.testing.assert_close(out[0].pred_score, zero[0][0].softmax(-1))
    torch.testing.assert_close(out[1].pred_score, zero[1][0].softmax(-1))


def test_errors():
    with pytest.raises(ValueError, match=r"2 heads \(num_classes=\[3, 5\]\) "
                       r"for 3 datasets \['digits', 'shapes', 'scenes'\]"):
        SharedBackboneClassifier(backbone=tiny_backbone(),
                                 dataset_names=NAMES, num_classes=[3, 5])
    with pytest.raises(ValueError, match=r'head.num_classes=\[3, 5, 7\]'):
        SharedBackboneClassifier(
            backbone=tiny_backbone(), dataset_names=NAMES,
            num_classes=CLASSES,
            head=dict(type='MultiDatasetClsHead', num_classes=[3, 5, 7]))
    model = make_model()
    with pytest.raises(ValueError, match=r"label 5 of dataset 'shapes'"):
        model.loss(torch.randn(1, 3, 32, 32), samples([1], [5]))
    stray = DataSample().set_gt_label(0)
    stray.set_metainfo(dict(dataset_idx=7, dataset_name='other'))
    with pytest.raises(ValueError, match=r"dataset_idx 7 \(dataset_name "
                       r"'other'\) is not one of"):
        model.predict(torch.randn(1, 3, 32, 32), [stray])


def test_offline_config_trains_with_runner(tmp_path, tiny_offline_root):
    """configs/baselines/joint_all_offline.py as given (only data roots,
    sizes and length shrunk): 2 training iterations and a validation."""
    from mmengine.runner import Runner
    cfg = complete_joint_loaders(Config.fromfile(
        str(REPO + '/configs/baselines/joint_all_offline.py')))
    assert cfg.model.dataset_names == ['mnist', 'fashion', 'animals']
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[key]
        loader.update(batch_size=4, num_workers=0, persistent_workers=False)
        for name, entry in zip(loader.dataset.names,
                               loader.dataset.datasets):
            entry.data_root = f'{tiny_offline_root}/{name}'
            if key != 'train_dataloader':
                entry.indices = 4
    # 2 epochs of one batch: the schedule's cosine phase starts at epoch 1.
    cfg.train_dataloader.sampler.num_samples = 4
    cfg.train_cfg.update(max_epochs=2, val_interval=2)
    cfg.work_dir = str(tmp_path / 'work')

    runner = Runner.from_cfg(cfg)
    model = runner.model
    stem_before = model.backbone.conv1.weight.detach().clone()
    runner.train()
    assert runner.iter == 2 and runner.epoch == 2
    # The shared backbone learns (from scratch), unlike a joint teacher's.
    assert not torch.equal(model.backbone.conv1.weight, stem_before)
    metrics = runner.val()
    for name in ('mnist', 'fashion', 'animals'):
        assert 0.0 <= metrics[f'{name}/accuracy_top1'] <= 100.0
    assert 0.0 <= metrics['mean/accuracy_top1'] <= 100.0
    assert (tmp_path / 'work' / 'epoch_2.pth').is_file()
