"""The video teacher configs (offline TSN/TSM and the paper's TSN/TSM-R50).

Each config's model is built and run on random clips (the paper's R50 ones at
64 px to stay fast), its backbone gives every level with the segments folded
into the batch, and each of the paper's datasets is built from a tiny fake
data set in the layout its config expects.
"""
from pathlib import Path

import mlfd_mm  # noqa: F401  (compat fixes before torchvision is imported)

import pytest
import torch
from mmaction.structures import ActionDataSample
from mmengine.config import Config
from mmengine.registry import DATASETS, MODELS, DefaultScope
from mmengine.runner import load_checkpoint
from video_fakes import fake_activitynet, fake_video_dataset

REPO = Path(__file__).resolve().parents[1]
TEACHERS = REPO / 'configs' / 'teachers'

# config stem -> (head type, backbone type, num_classes, test input size)
VIDEO_CONFIGS = {
    'offline_video_tsm_r18_direction': ('TSMHead', 'ResNetTSM', 8, 32),
    'offline_video_tsm_r18_motion': ('TSMHead', 'ResNetTSM', 6, 32),
    'offline_video_tsn_r18_objmotion': ('TSNHead', 'mmpretrain.ResNet', 10,
                                        32),
    'video_tsn_r50_activitynet': ('TSNHead', 'ResNet', 200, 64),
    'video_tsm_r50_hmdb51': ('TSMHead', 'ResNetTSM', 51, 64),
    'video_tsm_r50_ucf101': ('TSMHead', 'ResNetTSM', 101, 64),
}
PAPER = [c for c in VIDEO_CONFIGS if c.startswith('video_')]
NUM_SEGMENTS = 8


def _config(stem):
    return Config.fromfile(str(TEACHERS / f'{stem}.py'))


def _build_model(cfg):
    with DefaultScope.overwrite_default_scope('mmaction'):
        model = MODELS.build(cfg.model)
    model.init_weights()
    return model.eval()


def test_every_video_teacher_config_is_covered():
    found = {p.stem for p in TEACHERS.glob('*video*.py')}
    assert found == set(VIDEO_CONFIGS)


@pytest.mark.parametrize('stem', sorted(VIDEO_CONFIGS))
def test_config_runtime_and_segments(stem):
    head, backbone, num_classes, _ = VIDEO_CONFIGS[stem]
    cfg = _config(stem)
    assert cfg.default_scope == 'mmaction'
    assert cfg.visualizer.type == 'ActionVisualizer'
    assert 'mlfd_mm' in cfg.custom_imports.imports
    assert cfg.model.cls_head.type == head
    assert cfg.model.backbone.type == backbone
    assert cfg.model.cls_head.num_classes == num_classes == cfg.num_classes
    # the segments a TSM shifts over are the clips SampleFrames cuts
    for split in ('train', 'val', 'test'):
        pipeline = cfg[f'{split}_dataloader'].dataset.pipeline
        sample = [t for t in pipeline if t.type == 'SampleFrames']
        assert len(sample) == 1 and sample[0].num_clips == NUM_SEGMENTS
        assert sample[0].clip_len == 1
    if head == 'TSMHead':
        assert cfg.model.backbone.num_segments == NUM_SEGMENTS
        assert cfg.model.cls_head.num_segments == NUM_SEGMENTS
        assert cfg.model.backbone.pretrained2d is False


@pytest.mark.parametrize('stem', sorted(VIDEO_CONFIGS))
def test_model_forward_on_random_clips(stem):
    torch.manual_seed(0)
    _, _, num_classes, size = VIDEO_CONFIGS[stem]
    model = _build_model(_config(stem))
    clip = torch.randint(0, 256, (NUM_SEGMENTS, 3, size, size),
                         dtype=torch.uint8)
    sample = ActionDataSample().set_gt_label(torch.tensor([1]))
    with torch.no_grad():
        data = model.data_preprocessor(
            dict(inputs=[clip], data_samples=[sample]), False)
        assert data['inputs'].shape == (1, NUM_SEGMENTS, 3, size, size)
        logits, _ = model.extract_feat(data['inputs'], stage='head')
        [prediction] = model(**data, mode='predict')
    assert logits.shape == (1, num_classes)
    assert torch.isfinite(logits).all()
    scores = prediction.pred_score
    assert scores.shape == (num_classes, )
    # average_clips='prob': the scores are a distribution
    assert torch.allclose(scores.sum(), torch.tensor(1.0), atol=1e-4)

    model.train()
    data = model.data_preprocessor(
        dict(inputs=[clip], data_samples=[sample]), True)
    losses = model(**data, mode='loss')
    assert torch.isfinite(losses['loss_cls'])


@pytest.mark.parametrize('stem', [
    'offline_video_tsm_r18_direction', 'offline_video_tsn_r18_objmotion'
])
def test_backbone_levels_fold_segments_into_the_batch(stem):
    """What a frozen video teacher hands the fusion: (B*S, C, H, W)."""
    cfg = _config(stem)
    cfg.model.backbone.out_indices = (0, 1, 2, 3)
    model = _build_model(cfg)
    frames = torch.randn(2 * NUM_SEGMENTS, 3, 32, 32)
    with torch.no_grad():
        levels = model.backbone(frames)
    assert len(levels) == 4
    widths = [level.shape[1] for level in levels]
    assert all(level.shape[0] == 2 * NUM_SEGMENTS for level in levels)
    assert widths == sorted(widths) and widths[-1] == (
        cfg.model.cls_head.in_channels)
    assert [level.shape[-1] for level in levels] == [8, 4, 2, 1]


@pytest.mark.parametrize('stem', PAPER)
def test_paper_teacher_loads_a_kinetics400_checkpoint(stem, tmp_path):
    cfg = _config(stem)
    assert cfg.load_from.startswith('checkpoints/') and (
        'kinetics400' in cfg.load_from)
    # A stand-in for the user's Kinetics-400 checkpoint: same architecture,
    # 400 classes.
    k400_cfg = _config(stem)
    k400_cfg.model.cls_head.num_classes = 400
    torch.manual_seed(1)
    k400 = _build_model(k400_cfg)
    path = tmp_path / 'k400.pth'
    torch.save(dict(state_dict=k400.state_dict()), path)

    model = _build_model(cfg)
    head_before = model.cls_head.fc_cls.weight.clone()
    load_checkpoint(model, str(path), map_location='cpu', strict=False)
    name, param = next(iter(model.backbone.named_parameters()))
    assert torch.equal(param, dict(k400.backbone.named_parameters())[name])
    # the 400-way classifier is left out, not forced in
    assert torch.equal(model.cls_head.fc_cls.weight, head_before)


# ---------------------------------------------------------------- datasets
@pytest.mark.parametrize('stem', PAPER)
def test_paper_dataset_builds_from_its_expected_layout(stem, tmp_path,
                                                       monkeypatch):
    monkeypatch.chdir(tmp_path)
    classes = ['brush_hair', 'cartwheel', 'catch']
    if 'activitynet' in stem:
        fake_activitynet(classes)
    else:
        fake_video_dataset(stem.rsplit('_', 1)[1], classes)
    cfg = _config(stem)
    for split in ('train', 'val', 'test'):
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            dataset = DATASETS.build(cfg[f'{split}_dataloader'].dataset)
        assert len(dataset) == len(classes)
        sample = dataset[2]
        assert tuple(sample['inputs'].shape) == (NUM_SEGMENTS, 3, 224, 224)
        assert sample['data_samples'].gt_label.item() == 2
