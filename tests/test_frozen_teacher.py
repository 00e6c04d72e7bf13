"""FrozenTeacher: levels, checkpoint loading, freezing, own normalisation."""
import mlfd_mm  # noqa: F401  (compat fixes before torchvision)
import pytest
import torch
from mmengine.registry import MODELS, DefaultScope

from conftest import save_teacher_checkpoint, tiny_resnet_cifar
from mlfd_mm.models import FrozenTeacher, JointTeacher
from mlfd_mm.models.normalise import PixelNormaliser


def save_checkpoint(model_cfg, path, seed=0):
    return save_teacher_checkpoint(model_cfg, path, seed)


@pytest.fixture(scope='module')
def resnet_ckpt(tmp_path_factory):
    path = tmp_path_factory.mktemp('ckpt') / 'resnet.pth'
    state = save_checkpoint(tiny_resnet_cifar(), path)
    return str(path), state


def test_levels_resnet_cifar(resnet_ckpt):
    path, _ = resnet_ckpt
    teacher = FrozenTeacher(tiny_resnet_cifar(), path, name='cifar')
    # 4 stages at 32/16/8/4 px: each its own level, L1 the deepest.
    assert teacher.available_levels == {'L1': 3, 'L2': 2, 'L3': 1, 'L4': 0}
    assert teacher.levels == [1, 2, 3]
    assert teacher.out_channels == [8, 16, 32]
    assert teacher.spatial_sizes == [(16, 16), (8, 8), (4, 4)]
    assert teacher.num_segments == 1
    assert teacher.num_classes == 3
    feats = teacher(torch.rand(2, 3, 32, 32) * 255)
    assert [tuple(f.shape) for f in feats] == [(2, 8, 16, 16), (2, 16, 8, 8),
                                              (2, 32, 4, 4)]

    two = FrozenTeacher(tiny_resnet_cifar(), path, name='cifar', levels='L2')
    assert two.levels == [2, 3]
    assert two.out_channels == [16, 32]

    explicit = FrozenTeacher(tiny_resnet_cifar(), path, levels=(3, 0))
    assert explicit.levels == [0, 3]
    assert explicit.out_channels == [4, 32]


def test_levels_timm_features_only(tmp_path):
    model = dict(
        type='ImageClassifier', _scope_='mmpretrain',
        backbone=dict(type='TIMMBackbone', model_name='tinynet_e',
                      features_only=True, out_indices=(4, )),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=4, in_channels=160))
    path = tmp_path / 'timm.pth'
    save_checkpoint(model, path)
    teacher = FrozenTeacher(model, str(path), name='tiny', levels='L3')
    # timm stages at strides 2..32: five sizes 16/8/4/2/1 at 32 px.
    assert sorted(teacher.available_levels) == ['L1', 'L2', 'L3', 'L4', 'L5']
    assert teacher.levels == [2, 3, 4]
    assert teacher.out_channels == [24, 56, 160]
    assert teacher.spatial_sizes == [(4, 4), (2, 2), (1, 1)]
    feats = teacher(torch.rand(1, 3, 32, 32) * 255)
    assert [tuple(f.shape) for f in feats] == [(1, 24, 4, 4), (1, 56, 2, 2),
                                              (1, 160, 1, 1)]


def test_levels_efficientnet_group_stages_by_size():
    model = dict(type='ImageClassifier', _scope_='mmpretrain',
                 backbone=dict(type='EfficientNet', arch='b0'),
                 head=dict(type='LinearClsHead', num_classes=5,
                           in_channels=1280))
    teacher = FrozenTeacher(model, None, levels='L3')
    # Seven stages at 16/16/8/4/2/1/1 px: a level is the deepest stage at
    # each size, so stages 0 and 5 are never levels.
    assert teacher.available_levels == {
        'L1': 6, 'L2': 4, 'L3': 3, 'L4': 2, 'L5': 1}
    assert teacher.levels == [3, 4, 6]
    assert teacher.out_channels == [40, 112, 1280]
    assert teacher.spatial_sizes == [(4, 4), (2, 2), (1, 1)]
    # At 64 px the same stages, twice the size.
    assert teacher.feature_shapes(64) == [(40, 8, 8), (112, 4, 4),
                                          (1280, 2, 2)]


def test_unknown_level_lists_valid_ones(resnet_ckpt):
    path, _ = resnet_ckpt
    with pytest.raises(ValueError) as err:
        FrozenTeacher(tiny_resnet_cifar(), path, name='cifar', levels='L9')
    msg = str(err.value)
    assert "'L9'" in msg and "'cifar'" in msg and "'L1'..'L4'" in msg
    assert 'stage 3 (4x4)' in msg
    with pytest.raises(ValueError, match=r"\[12\].*'cifar'.*0\.\.3"):
        FrozenTeacher(tiny_resnet_cifar(), path, name='cifar', levels=(1, 12))


def test_missing_checkpoint_names_teacher_and_path(tmp_path):
    missing = str(tmp_path / 'nowhere.pth')
    with pytest.raises(FileNotFoundError) as err:
        FrozenTeacher(tiny_resnet_cifar(), missing, name='cifar')
    assert "'cifar'" in str(err.value) and missing in str(err.value)


def test_mismatched_checkpoint_names_keys(tmp_path):
    wider = tmp_path / 'wider.pth'
    save_checkpoint(tiny_resnet_cifar(base_channels=8), wider)
    with pytest.raises(RuntimeError) as err:
        FrozenTeacher(tiny_resnet_cifar(), str(wider), name='cifar')
    msg = str(err.value)
    assert "'cifar'" in msg and 'shape mismatch' in msg
    assert 'layer1.0.conv1.weight' in msg

    other_arch = tmp_path / 'effnet.pth'
    torch.save({'state_dict': {'backbone.layers.0.conv.weight':
                               torch.zeros(1)}}, str(other_arch))
    with pytest.raises(RuntimeError, match=r"'cifar'.*missing.*conv1\.weight"
                       r".*unexpected.*layers\.0\.conv\.weight"):
        FrozenTeacher(tiny_resnet_cifar(), str(other_arch), name='cifar')


def test_loads_backbone_weights_and_drops_head(resnet_ckpt):
    path, state = resnet_ckpt
    teacher = FrozenTeacher(tiny_resnet_cifar(), path)
    own = teacher.backbone.state_dict()
    assert set(own) == {k[len('backbone.'):] for k in state
                        if k.startswith('backbone.')}
    for key, value in own.items():
        assert torch.equal(value, state['backbone.' + key]), key
    assert not any('head' in name for name, _ in teacher.named_parameters())


def test_frozen(resnet_ckpt):
    path, state = resnet_ckpt
    joint = JointTeacher(
        teachers=[dict(name='a', config=tiny_resnet_cifar(), checkpoint=path)],
        fusion=dict(type='ConcatFusionNeck', width=8))
    teacher = joint.teachers[0]
    assert all(not p.requires_grad for p in teacher.parameters())
    joint.train()
    assert joint.training and joint.neck.training
    assert not teacher.training
    assert all(not m.training for m in teacher.modules())

    optim = torch.optim.SGD(
        [p for p in joint.parameters() if p.requires_grad], lr=0.5,
        momentum=0.9, weight_decay=0.1)
    inputs = torch.rand(4, 3, 32, 32) * 255
    for _ in range(2):
        out = joint(inputs, mode='tensor')
        loss = out['logits'][0].pow(2).sum() + sum(
            f.mean() for f in out['features'])
        optim.zero_grad()
        loss.backward()
        optim.step()
    for key, value in teacher.backbone.state_dict().items():
        # Parameters and BN running statistics, bit for bit.
        assert torch.equal(value, state['backbone.' + key]), key
    assert all(p.grad is None for p in teacher.parameters())
    # The features did not keep a graph into the teacher.
    assert all(not f.requires_grad for f in teacher(inputs))


def test_own_normalisation(tmp_path, resnet_ckpt):
    path, _ = resnet_ckpt
    # A stage-1 config file whose mean/std sit in the top-level
    # data_preprocessor, as in mmpretrain's dataset configs.
    config = tmp_path / 'bgr_teacher.py'
    config.write_text(
        'default_scope = "mmpretrain"\n'
        f'model = {tiny_resnet_cifar()!r}\n'
        'data_preprocessor = dict(num_classes=3, mean=[10., 20., 30.], '
        'std=[2., 4., 8.], to_rgb=True)\n')
    flipping = FrozenTeacher(str(config), path)
    plain = FrozenTeacher(
        dict(tiny_resnet_cifar(),
             data_preprocessor=dict(mean=[100., 100., 100.],
                                    std=[50., 50., 50.])), path, name='plain')
    raw = FrozenTeacher(tiny_resnet_cifar(), path, name='raw')
    assert flipping.name == 'bgr_teacher'

    seen = {}
    for name, teacher in (('flip', flipping), ('plain', plain), ('raw', raw)):
        teacher.backbone.register_forward_pre_hook(
            lambda mod, args, name=name: seen.__setitem__(name, args[0]))
    pixels = torch.rand(2, 3, 32, 32) * 255
    for teacher in (flipping, plain, raw):
        teacher(pixels)
    mean = torch.tensor([10., 20., 30.]).view(1, 3, 1, 1)
    std = torch.tensor([2., 4., 8.]).view(1, 3, 1, 1)
    torch.testing.assert_close(seen['flip'], (pixels.flip(1) - mean) / std)
    torch.testing.assert_close(seen['plain'], (pixels - 100.) / 50.)
    torch.testing.assert_close(seen['raw'], pixels)


def test_clips_of_segments(resnet_ckpt):
    path, _ = resnet_ckpt
    teacher = FrozenTeacher(tiny_resnet_cifar(), path, num_segments=4)
    assert teacher.num_segments == 4
    clips = torch.rand(2, 4, 3, 32, 32) * 255
    feats = teacher(clips)
    assert tuple(feats[-1].shape) == (8, 32, 4, 4)
    # (B, S, ...) and (B*S, ...) are the same frames.
    torch.testing.assert_close(teacher(clips.flatten(0, 1))[-1], feats[-1])
    with pytest.raises(ValueError, match=r'4 segments but got 3'):
        teacher(torch.rand(2, 3, 3, 32, 32))


def test_segments_from_mmaction_tsm_config():
    model = dict(
        type='Recognizer2D', _scope_='mmaction',
        backbone=dict(type='ResNetTSM', depth=18, num_segments=4,
                      pretrained=None),
        cls_head=dict(type='TSMHead', num_classes=7, in_channels=512,
                      num_segments=4))
    teacher = FrozenTeacher(model, None, name='tsm', levels='L2')
    assert teacher.num_segments == 4
    assert teacher.num_classes == 7
    assert teacher.levels == [2, 3]
    feats = teacher(torch.rand(1, 4, 3, 32, 32) * 255)
    assert [tuple(f.shape) for f in feats] == [(4, 256, 2, 2),
                                              (4, 512, 1, 1)]


def test_with_head_gives_the_stock_models_logits(tmp_path, resnet_ckpt):
    """``with_head=True`` keeps the stage-1 neck and head: the logits are
    the stock model's on the teacher's own normalisation, from the same
    backbone pass as the features."""
    path, state = resnet_ckpt
    model_cfg = dict(tiny_resnet_cifar(),
                     data_preprocessor=dict(mean=[100.] * 3, std=[50.] * 3))
    teacher = FrozenTeacher(model_cfg, path, name='cifar', with_head=True)
    assert all(not p.requires_grad for p in teacher.parameters())
    assert torch.equal(teacher.head.fc.weight, state['head.fc.weight'])
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        stock = MODELS.build(tiny_resnet_cifar())
    stock.load_state_dict(state)
    stock.eval()
    pixels = torch.rand(2, 3, 32, 32) * 255
    feats, logits = teacher.forward_with_logits(pixels)
    with torch.no_grad():
        expected = stock((pixels - 100.) / 50., mode='tensor')
    assert logits.shape == (2, 3)
    torch.testing.assert_close(logits, expected)
    for got, want in zip(feats, teacher(pixels)):
        assert torch.equal(got, want)
    assert not logits.requires_grad

    headless = FrozenTeacher(tiny_resnet_cifar(), path, name='bare')
    assert headless.head is None
    with pytest.raises(RuntimeError, match="'bare'.*with_head=True"):
        headless.forward_with_logits(pixels)

    # A checkpoint whose head does not fit is named as such.
    other = tmp_path / 'five_classes.pth'
    five = tiny_resnet_cifar(num_classes=5)
    torch.save({'state_dict': dict(
        state, **{'head.fc.weight': torch.zeros(5, 32),
                  'head.fc.bias': torch.zeros(5)})}, str(other))
    with pytest.raises(RuntimeError, match=r"'cifar'.*head LinearClsHead.*"
                       r"shape mismatch.*fc\.weight"):
        FrozenTeacher(tiny_resnet_cifar(), str(other), name='cifar',
                      with_head=True)
    # ... while the headless teacher ignores the head's weights.
    FrozenTeacher(five, str(other), name='cifar')


# ---------------------------------------------------------------------------
# PixelNormaliser: what the stock data preprocessors do to pixels
# ---------------------------------------------------------------------------
MEAN_STD = dict(mean=[10., 20., 30.], std=[2., 4., 8.])


def test_normaliser_matches_mmpretrain_preprocessor():
    from mmpretrain.models import ClsDataPreprocessor
    pixels = torch.randint(0, 256, (2, 3, 8, 8), dtype=torch.uint8)
    for to_rgb in (False, True):
        stock = ClsDataPreprocessor(to_rgb=to_rgb, **MEAN_STD)
        want = stock(dict(inputs=list(pixels)))['inputs']
        ours = PixelNormaliser.from_preprocessor(
            dict(type='ClsDataPreprocessor', to_rgb=to_rgb, **MEAN_STD))
        assert torch.allclose(ours(pixels), want), to_rgb


@pytest.mark.parametrize('format_shape', ['NCHW', 'NCTHW'])
def test_normaliser_matches_mmaction_preprocessor(format_shape):
    from mmaction.models import ActionDataPreprocessor
    # One clip per sample: (N, 1, C, T, H, W) or (N, 1, T, C, H, W).
    shape = (2, 1, 3, 4, 8, 8) if format_shape == 'NCTHW' else (2, 1, 4, 3,
                                                                8, 8)
    clips = torch.randint(0, 256, shape, dtype=torch.uint8)
    cfg = dict(to_rgb=True, format_shape=format_shape, **MEAN_STD)
    want = ActionDataPreprocessor(**cfg)(
        dict(inputs=list(clips), data_samples=None))['inputs']
    ours = PixelNormaliser.from_preprocessor(cfg)
    assert ours.channel_dim == (-4 if format_shape == 'NCTHW' else -3)
    assert torch.allclose(ours(clips), want)


def test_normaliser_buffers_stay_out_of_state_dicts(resnet_ckpt):
    path, state = resnet_ckpt
    teacher = FrozenTeacher(
        dict(tiny_resnet_cifar(), data_preprocessor=MEAN_STD), path)
    assert teacher.mean.flatten().tolist() == MEAN_STD['mean']
    assert teacher.normaliser.state_dict() == {}
    assert set(teacher.state_dict()) == {
        k for k in state if k.startswith('backbone.')}


def test_normaliser_needs_both_mean_and_std():
    with pytest.raises(ValueError, match=r"teacher 'x': data_preprocessor "
                       r'gives only one of mean \(\[1.0\]\) and std'):
        PixelNormaliser.from_preprocessor(dict(mean=[1.]), what="teacher 'x'")
