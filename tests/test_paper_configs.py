"""The paper's stage-1 teacher configs (sets T1, T3, T4) build and run.

The paper's datasets can't be downloaded here, so every config found under
``configs/teachers/t[134]_*.py`` is checked in two ways:

* its model is built and run on a random 224 px image, and its stage-1
  backbone weights load into the same backbone with every level out (what a
  frozen teacher of stage 2 does);
* its train/val/test datasets are built from a tiny fake data root written in
  the layout the dataset class (or, for ``CustomDataset``, the config's
  ``data_prefix`` / ``ann_file``) expects, and a sample goes through the
  pipeline.
"""
from pathlib import Path

import mlfd_mm  # noqa: F401  (compat fixes before torchvision is imported)

import cv2
import mat4py
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmpretrain.registry import DATASETS, MODELS

from paper_data import make_cifar100

CONFIG_DIR = Path(__file__).resolve().parents[1] / 'configs' / 'teachers'
PAPER_CONFIGS = sorted(
    p for pattern in ('t1_*.py', 't3_*.py', 't4_*.py')
    for p in CONFIG_DIR.glob(pattern))

# The paper's sets: config stem -> (backbone, dataset class, num_classes).
PAPER_SETS = {
    't1_resnet18_cifar100': ('ResNet-18', 'CIFAR100', 100),
    't1_efficientnet_b0_tiny_imagenet': ('EfficientNet-b0', 'CustomDataset',
                                         200),
    't1_seresnext26d_imagenet_sketch': ('seresnext26d_32x4d',
                                        'CustomDataset', 1000),
    't3_resnet18_caltech101': ('ResNet-18', 'Caltech101', 102),
    't3_efficientnet_b0_flowers102': ('EfficientNet-b0', 'Flowers102', 102),
    't3_seresnext26d_cub': ('seresnext26d_32x4d', 'CUB', 200),
    't3_resnet18_oxford_pets': ('ResNet-18', 'OxfordIIITPet', 37),
    't4_resnet50_cifar100': ('ResNet-50', 'CIFAR100', 100),
    't4_efficientnet_b1_tiny_imagenet': ('EfficientNet-b1', 'CustomDataset',
                                         200),
    # SE-ResNeXt-50-D = timm's ResNeXt-50-D with SE blocks.
    't4_seresnext50d_imagenet_sketch': ('resnext50d_32x4d+se',
                                        'CustomDataset', 1000),
}

# Every level of each backbone type, as a frozen teacher will request them.
ALL_LEVELS = {
    'ResNet': (0, 1, 2, 3),
    'EfficientNet': (0, 1, 2, 3, 4, 5, 6),
    'TIMMBackbone': (0, 1, 2, 3, 4),
}

SPLIT_KEYS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


@pytest.fixture(autouse=True)
def mmpretrain_scope():
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        yield


def _num_classes(cfg):
    return cfg.data_preprocessor.num_classes


def _describe_backbone(backbone_cfg):
    if backbone_cfg.type == 'ResNet':
        return f'ResNet-{backbone_cfg.depth}'
    if backbone_cfg.type == 'EfficientNet':
        return f'EfficientNet-{backbone_cfg.arch}'
    name = backbone_cfg.model_name
    if backbone_cfg.get('block_args', {}).get('attn_layer') == 'se':
        name += '+se'
    return name


def _model_types(node):
    """Yield every ``type`` in a (nested) model config."""
    if isinstance(node, dict):
        if 'type' in node:
            yield node['type']
        for value in node.values():
            yield from _model_types(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from _model_types(value)


def test_every_paper_teacher_has_a_config():
    found = {p.stem for p in PAPER_CONFIGS}
    missing = sorted(set(PAPER_SETS) - found)
    assert not missing, f'paper teacher configs missing: {missing}'


@pytest.mark.parametrize('config_path', PAPER_CONFIGS, ids=lambda p: p.stem)
def test_config_matches_paper_set(config_path):
    cfg = Config.fromfile(str(config_path))
    num_classes = _num_classes(cfg)
    assert cfg.model.head.num_classes == num_classes, (
        f'{config_path.name}: head.num_classes '
        f'{cfg.model.head.num_classes} != data_preprocessor.num_classes '
        f'{num_classes}')
    # Stage-1 teachers train from scratch: no pretrained weights anywhere.
    assert not cfg.model.backbone.get('pretrained', False)
    assert cfg.model.backbone.get('init_cfg') is None
    assert cfg.load_from is None
    expected = PAPER_SETS.get(config_path.stem)
    if expected is not None:
        backbone, dataset_type, expected_classes = expected
        assert _describe_backbone(cfg.model.backbone) == backbone
        assert cfg.train_dataloader.dataset.type == dataset_type
        assert num_classes == expected_classes
    # Only stock mmpretrain types, so the checkpoints load without mlfd_mm.
    for type_name in _model_types(cfg.model.to_dict()):
        module = MODELS.get(type_name).__module__
        assert module.startswith('mmpretrain.'), (
            f'{config_path.name}: model type {type_name!r} comes from '
            f'{module}, not mmpretrain')


@pytest.mark.parametrize('config_path', PAPER_CONFIGS, ids=lambda p: p.stem)
def test_model_forward_224(config_path):
    torch.set_num_threads(1)
    cfg = Config.fromfile(str(config_path))
    model = MODELS.build(cfg.model)
    model.eval()
    with torch.no_grad():
        logits = model(torch.randn(1, 3, 224, 224), mode='tensor')
    assert logits.shape == (1, _num_classes(cfg))
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize('config_path', PAPER_CONFIGS, ids=lambda p: p.stem)
def test_backbone_weights_load_with_every_level_out(config_path):
    """A frozen teacher rebuilds the backbone with all levels out: the
    stage-1 weights must load strictly and give the same deepest features."""
    torch.manual_seed(0)
    torch.set_num_threads(1)
    cfg = Config.fromfile(str(config_path))
    backbone_cfg = cfg.model.backbone
    stage1 = MODELS.build(backbone_cfg)
    all_levels = MODELS.build(
        dict(backbone_cfg, out_indices=ALL_LEVELS[backbone_cfg.type]))
    all_levels.load_state_dict(stage1.state_dict(), strict=True)
    # (mmpretrain's EfficientNet.train() returns None: don't chain .eval())
    stage1.eval()
    all_levels.eval()
    # 64 px is enough to compare the two; 224 px is covered above.
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        deepest, = stage1(x)
        levels = all_levels(x)
    assert len(levels) == len(ALL_LEVELS[backbone_cfg.type])
    assert levels[-1].shape[1] == cfg.model.head.in_channels
    torch.testing.assert_close(levels[-1], deepest)


# ---------------------------------------------------------------------------
# Fake data roots. Each writer gets the root, one dataset config and the
# number of classes, writes what that dataset needs and returns the labels
# (0-based, in dataset order) the dataset must then yield.
# ---------------------------------------------------------------------------


def _write_image(path, seed):
    # Small and not square, so the resize/crop steps all do something.
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    image = rng.integers(0, 256, size=(30, 40, 3), dtype=np.uint8)
    assert cv2.imwrite(str(path), image)


def _write_lines(path, lines):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(''.join(f'{line}\n' for line in lines))


def _fake_cifar100(root, ds_cfg, num_classes):
    labels = {'train': [0, num_classes - 1, 5], 'test': [7, num_classes - 1]}
    make_cifar100(root.parent, labels['train'], labels['test'],
                  name=root.name)
    return labels[ds_cfg.split]


def _fake_caltech101(root, ds_cfg, num_classes):
    rows = {
        'train': [('accordion/image_0001.jpg', 0),
                  ('yin_yang/image_0001.jpg', num_classes - 1)],
        'test': [('accordion/image_0002.jpg', 0),
                 ('Faces/image_0001.jpg', 1),
                 ('yin_yang/image_0002.jpg', num_classes - 1)],
    }
    for split, split_rows in rows.items():
        for i, (path, _) in enumerate(split_rows):
            _write_image(root / '101_ObjectCategories' / path, i)
        _write_lines(root / 'meta' / f'{split}.txt',
                     [f'{path} {label}' for path, label in split_rows])
    return [label for _, label in rows[ds_cfg.split]]


def _fake_flowers102(root, ds_cfg, num_classes):
    # mat4py stores a one-element list as a scalar, so every split has >= 2.
    image_labels = [1, num_classes, 3, 4, 50, num_classes, 2]  # 1-based
    split_ids = {'trnid': [1, 2], 'valid': [3, 4], 'tstid': [5, 6, 7]}
    for image_id in range(1, len(image_labels) + 1):
        _write_image(root / 'jpg' / f'image_{image_id:05d}.jpg', image_id)
    mat4py.savemat(str(root / 'imagelabels.mat'), {'labels': image_labels})
    mat4py.savemat(str(root / 'setid.mat'), split_ids)
    key = {'train': 'trnid', 'val': 'valid', 'test': 'tstid'}[ds_cfg.split]
    return [image_labels[i - 1] - 1 for i in split_ids[key]]


def _fake_cub(root, ds_cfg, num_classes):
    # (file, 1-based class, is_train)
    rows = [('001.Black_footed_Albatross/a_1.jpg', 1, 1),
            ('200.Common_Yellowthroat/c_1.jpg', num_classes, 0),
            ('001.Black_footed_Albatross/a_2.jpg', 1, 0),
            ('200.Common_Yellowthroat/c_2.jpg', num_classes, 1)]
    for i, (path, _, _) in enumerate(rows):
        _write_image(root / 'images' / path, i)
    _write_lines(root / 'images.txt',
                 [f'{i} {path}' for i, (path, _, _) in enumerate(rows, 1)])
    _write_lines(root / 'image_class_labels.txt',
                 [f'{i} {label}' for i, (_, label, _) in enumerate(rows, 1)])
    _write_lines(root / 'train_test_split.txt',
                 [f'{i} {train}' for i, (_, _, train) in enumerate(rows, 1)])
    want_train = int(ds_cfg.split == 'train')
    return [label - 1 for _, label, train in rows if train == want_train]


def _fake_oxford_pets(root, ds_cfg, num_classes):
    # (image name, 1-based class, species 1 cat / 2 dog, breed id)
    rows = {
        'trainval': [('Abyssinian_1', 1, 1, 1),
                     ('yorkshire_terrier_1', num_classes, 2, 25)],
        'test': [('Abyssinian_2', 1, 1, 1),
                 ('yorkshire_terrier_2', num_classes, 2, 25),
                 ('beagle_1', 11, 2, 4)],
    }
    for split, split_rows in rows.items():
        for i, (name, *_) in enumerate(split_rows):
            _write_image(root / 'images' / f'{name}.jpg', i)
        _write_lines(root / 'annotations' / f'{split}.txt',
                     [' '.join(map(str, row)) for row in split_rows])
    return [label - 1 for _, label, _, _ in rows[ds_cfg.split]]


def _fake_custom_dataset(root, ds_cfg, num_classes):
    """Class folders, or images listed in ``ann_file``, under data_prefix."""
    prefix = root / ds_cfg.get('data_prefix', '')
    if not ds_cfg.get('ann_file'):
        # TinyImageNet's train layout: <wnid>/images/*.JPEG plus a box file
        # that the dataset must skip. Labels follow the sorted folder names.
        classes = ['n01443537', 'n09999999']
        labels = []
        for label, wnid in enumerate(classes):
            for i in range(2):
                _write_image(prefix / wnid / 'images' / f'{wnid}_{i}.JPEG',
                             i)
                labels.append(label)
            _write_lines(prefix / wnid / f'{wnid}_boxes.txt',
                         [f'{wnid}_0.JPEG 0 0 10 10'])
        return labels
    rows = [(f'n01440764/img_{ds_cfg.ann_file.replace("/", "_")}_0.JPEG', 0),
            (f'n15075141/img_{ds_cfg.ann_file.replace("/", "_")}_1.JPEG',
             num_classes - 1)]
    for i, (path, _) in enumerate(rows):
        _write_image(prefix / path, i)
    _write_lines(root / ds_cfg.ann_file,
                 [f'{path} {label}' for path, label in rows])
    return [label for _, label in rows]


FAKE_DATA_WRITERS = {
    'CIFAR100': _fake_cifar100,
    'Caltech101': _fake_caltech101,
    'Flowers102': _fake_flowers102,
    'CUB': _fake_cub,
    'OxfordIIITPet': _fake_oxford_pets,
    'CustomDataset': _fake_custom_dataset,
}


@pytest.mark.parametrize('config_path', PAPER_CONFIGS, ids=lambda p: p.stem)
def test_datasets_build_from_fake_root(config_path, tmp_path,
                                       cifar_checksums_off):
    cfg = Config.fromfile(str(config_path))
    num_classes = _num_classes(cfg)
    for key in SPLIT_KEYS:
        ds_cfg = cfg[key].dataset
        writer = FAKE_DATA_WRITERS.get(ds_cfg.type)
        assert writer is not None, (
            f'{config_path.name}: no fake-data writer for dataset type '
            f'{ds_cfg.type!r} ({key}); add one to this test')
        # A fresh root per split: each split must stand on its own files.
        root = tmp_path / key
        expected_labels = writer(root, ds_cfg, num_classes)
        ds_cfg.data_root = str(root)

        dataset = DATASETS.build(ds_cfg)

        assert len(dataset) == len(expected_labels), key
        labels = [int(dataset.get_data_info(i)['gt_label'])
                  for i in range(len(dataset))]
        assert labels == expected_labels, key
        assert all(0 <= label < num_classes for label in labels), key
        sample = dataset[len(dataset) - 1]
        assert sample['inputs'].shape == (3, 224, 224), key
        assert sample['inputs'].dtype == torch.uint8, key
        assert int(sample['data_samples'].gt_label) == expected_labels[-1]


def test_cifar100_config_never_downloads(tmp_path):
    """An empty CIFAR root fails with a message naming the path instead of
    trying the network."""
    cfg = Config.fromfile(str(CONFIG_DIR / 't1_resnet18_cifar100.py'))
    ds_cfg = cfg.train_dataloader.dataset
    ds_cfg.data_root = str(tmp_path / 'no_cifar_here')
    with pytest.raises(RuntimeError, match='no_cifar_here'):
        DATASETS.build(ds_cfg)


def test_runner_trains_one_epoch_with_paper_schedule(tmp_path):
    """The schedule, runtime and dataset pieces fit together under mmengine's
    Runner: one tiny epoch trains, validates and tests."""
    from mmengine.runner import Runner

    from mlfd_mm.config import fit_schedulers_to_epochs
    torch.set_num_threads(1)
    cfg = Config.fromfile(str(CONFIG_DIR / 't3_resnet18_oxford_pets.py'))
    root = tmp_path / 'pets'
    for key in SPLIT_KEYS:
        _fake_oxford_pets(root, cfg[key].dataset, _num_classes(cfg))
        cfg[key].dataset.data_root = str(root)
        cfg[key].batch_size = 2
        cfg[key].num_workers = 0
    cfg.train_cfg.max_epochs = 1
    cfg.train_cfg.val_interval = 1
    # as tools/train.py does: a phase that would begin after the last
    # epoch is left out
    fit_schedulers_to_epochs(cfg)
    cfg.work_dir = str(tmp_path / 'work')
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 1 and runner.epoch == 1
    # The cosine phase starts after warm-up; after one warm-up iteration of
    # five epochs' worth the lr is still far below the base lr.
    lr = runner.optim_wrapper.get_lr()['lr'][0]
    assert 0 < lr < cfg.optim_wrapper.optimizer.lr * 0.5
    metrics = runner.test()
    assert 0.0 <= metrics['accuracy/top1'] <= 100.0
    assert (tmp_path / 'work' / 'epoch_1.pth').is_file()
