"""The stage-1 teacher configs of the offline set build, run and read data.

Each config is checked as the Runner uses it: the model (with the dataset
config's top-level ``data_preprocessor`` merged in, as ``Runner.from_cfg``
does) maps a batch of 32 px images to 10 logits, and the train dataloader
reads a small real build of its dataset.
"""
import json
import os.path as osp
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope
from mmengine.runner import Runner

from mlfd_mm.datasets.offline import OFFLINE_DATASETS, build_offline_dataset

CONFIG_DIR = Path(__file__).resolve().parents[1] / 'configs' / 'teachers'
# config stem -> (offline dataset, backbone type: the architecture family)
OFFLINE_TEACHERS = {
    'offline_mnist_resnet18': ('mnist', 'ResNet_CIFAR'),
    'offline_fashion_tinynet': ('fashion', 'TIMMBackbone'),
    'offline_animals_seresnext': ('animals', 'SEResNeXt'),
    'offline_digits_resnet18': ('digits', 'ResNet_CIFAR'),
    # same-label teachers of the AMTML-KD comparison
    'offline_fashion_resnet18': ('fashion', 'ResNet_CIFAR'),
    'offline_fashion_seresnext': ('fashion', 'SEResNeXt'),
    # the quarter-width student trained alone (AMTML-KD, issue 15)
    'offline_fashion_resnet18_w4': ('fashion', 'ResNet_CIFAR'),
    # the AMTML-KD ResNet-18 teacher on 40 epochs (issue 15)
    'offline_fashion_resnet18_40e': ('fashion', 'ResNet_CIFAR'),
    # the 30-epoch baseline of the 30-epoch fashion student (issue 14)
    'offline_fashion_tinynet_30e': ('fashion', 'TIMMBackbone'),
}


@pytest.fixture(scope='module')
def offline_root(tiny_offline_root):
    """The shared tiny build (mnist, fashion, animals) plus digits."""
    build_offline_dataset('digits', root=tiny_offline_root, train_size=100)
    return tiny_offline_root


def _config(stem, data_root=None):
    cfg = Config.fromfile(str(CONFIG_DIR / f'{stem}.py'))
    if data_root is not None:
        for split in ('train', 'val', 'test'):
            cfg[f'{split}_dataloader'].dataset.data_root = data_root
    return cfg


def _build_model(cfg):
    model_cfg = cfg.model.copy()
    model_cfg.setdefault('data_preprocessor', cfg.get('data_preprocessor'))
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(model_cfg)


def test_every_offline_teacher_config_is_listed():
    assert sorted(p.stem for p in CONFIG_DIR.glob('offline_*.py')
                  if 'video' not in p.stem) == sorted(OFFLINE_TEACHERS)


@pytest.mark.parametrize('stem', sorted(OFFLINE_TEACHERS))
def test_teacher_maps_images_to_ten_logits(stem):
    name, backbone = OFFLINE_TEACHERS[stem]
    cfg = _config(stem)
    assert cfg.model.backbone.type == backbone
    # The repository's data/offline/<name>, named relative to the config
    # file, so the config works from any directory.
    assert osp.normpath(cfg.train_dataloader.dataset.data_root) == str(
        CONFIG_DIR.parents[1] / 'data' / 'offline' / name)
    # Stock mmpretrain types only, so the checkpoints load without mlfd_mm.
    assert cfg.default_scope == 'mmpretrain'
    model = _build_model(cfg).eval()
    assert type(model).__module__.startswith('mmpretrain.')
    assert type(model.backbone).__module__.startswith('mmpretrain.')
    with torch.no_grad():
        logits = model(torch.randn(2, 3, 32, 32), mode='tensor')
    assert logits.shape == (2, 10)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize('stem', sorted(OFFLINE_TEACHERS))
def test_normalisation_matches_the_train_pool(stem, offline_root):
    """The mean/std constants of the dataset config are those of the pool."""
    name, _ = OFFLINE_TEACHERS[stem]
    with open(osp.join(offline_root, name, 'meta', 'info.json')) as f:
        info = json.load(f)
    preprocessor = _config(stem).data_preprocessor
    assert preprocessor.mean == [info['pool_pixel_mean']] * 3
    assert preprocessor.std == [info['pool_pixel_std']] * 3
    assert preprocessor.num_classes == 10


@pytest.mark.parametrize('stem', sorted(OFFLINE_TEACHERS))
def test_train_dataloader_reads_the_built_dataset(stem, offline_root):
    name, _ = OFFLINE_TEACHERS[stem]
    cfg = _config(stem, data_root=osp.join(offline_root, name))
    loader_cfg = cfg.train_dataloader.copy()
    # One process: the test checks content, not worker start-up.
    loader_cfg.update(num_workers=0, persistent_workers=False)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        loader = Runner.build_dataloader(loader_cfg, seed=0)
    dataset = loader.dataset
    assert len(dataset) == 100
    assert dataset.metainfo['classes'] == OFFLINE_DATASETS[name]['classes']
    with open(osp.join(offline_root, name, 'meta', 'classes.txt')) as f:
        assert tuple(f.read().splitlines()) == dataset.metainfo['classes']

    batch = next(iter(loader))
    assert len(batch['inputs']) == 64
    assert batch['inputs'][0].shape == (3, 32, 32)
    assert batch['inputs'][0].dtype == torch.uint8
    labels = [int(s.gt_label) for s in batch['data_samples']]
    assert set(labels) <= set(range(10)) and len(set(labels)) > 1

    model = _build_model(cfg)
    data = model.data_preprocessor(batch, training=True)
    assert data['inputs'].shape == (64, 3, 32, 32)
    # Normalised with the pool's statistics: roughly zero mean, unit std.
    assert abs(float(data['inputs'].mean())) < 0.3
    assert 0.7 < float(data['inputs'].std()) < 1.3
    with torch.no_grad():
        loss = float(model(data['inputs'], data['data_samples'],
                           mode='loss')['loss'])
    # An untrained 10-way classifier: cross-entropy near ln(10).
    assert np.isfinite(loss) and 0.5 * np.log(10) < loss < 3 * np.log(10)
