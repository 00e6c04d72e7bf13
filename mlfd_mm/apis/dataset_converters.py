"""Bring the paper's datasets from their official archives into the layouts
the configs read (``configs/_base_/datasets/``); what
``tools/dataset_converters/*.py`` run.

Only what mmpretrain's dataset classes do not read from the release itself:

* TinyImageNet: ``val/val_labels.txt`` (class indices) from the official
  ``val/val_annotations.txt`` (:func:`tiny_imagenet_val_labels`);
* ImageNet-Sketch: the release has no splits; a fixed per-class stratified
  train/val/test split (:func:`imagenet_sketch_split`);
* Caltech-101: no official split; 30 training images per class, the rest
  for test, as in mmpretrain's meta files (:func:`caltech101_split`).

CIFAR-100, Flowers-102, CUB-200-2011 and Oxford-IIIT Pets are read from
their official layouts by mmpretrain's own classes: nothing to convert.

Splits are drawn per class with ``random.Random(f'{seed}:{class}')`` over
the sorted file names, so a split depends only on the seed and that class's
files (not on Python's hash seed, the file system's listing order or the
other classes). Every file is written atomically; a missing or malformed
input raises an error that names the file (and line).
"""
import json
import os
import os.path as osp
import random
from typing import Dict, List, Optional, Sequence, Tuple

from ..atomic_files import atomic_write_text

__all__ = ['DatasetLayoutError', 'MissingDatasetError', 'DATA_ROOT_ENV',
           'default_root',
           'SKETCH_SEED', 'SKETCH_FRACTIONS',
           'CALTECH_SEED', 'CALTECH_TRAIN_PER_CLASS',
           'tiny_imagenet_val_labels', 'imagenet_sketch_split',
           'caltech101_split', 'describe_split', 'PREPARE',
           'missing_pipeline_data', 'check_pipeline_data']

# ImageNet-Sketch: the project's split (configs/_base_/datasets/
# imagenet_sketch.py); changing either changes every result on it.
SKETCH_SEED = 0
SKETCH_FRACTIONS = (0.7, 0.1, 0.2)
# Caltech-101: the usual protocol, 30 training images per class.
CALTECH_SEED = 0
CALTECH_TRAIN_PER_CLASS = 30
IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif',
                  '.tiff', '.webp')


# The folder that holds the datasets; the configs of the paper's sets read
# it (``{{$MLFD_DATA_ROOT:data}}``, mmengine's environment substitution).
DATA_ROOT_ENV = 'MLFD_DATA_ROOT'


def default_root(folder: str) -> str:
    """``<$MLFD_DATA_ROOT or data>/<folder>``: where the configs look for
    a dataset, and so the converters' default."""
    return osp.join(os.environ.get(DATA_ROOT_ENV) or 'data', folder)


class DatasetLayoutError(ValueError):
    """A dataset folder is missing a file of its official layout, or one of
    its files is malformed."""


class MissingDatasetError(FileNotFoundError):
    """Dataset folders a pipeline reads are not there (the message names
    each, the stages that read it and the command that makes it)."""


def _need_dir(path: str, what: str) -> str:
    if not osp.isdir(path):
        raise DatasetLayoutError(f'{what}: folder not found: {path}')
    return path


def _need_file(path: str, what: str) -> str:
    if not osp.isfile(path):
        raise DatasetLayoutError(f'{what}: file not found: {path}')
    return path


def _class_folders(path: str, what: str) -> List[str]:
    classes = sorted(d for d in os.listdir(_need_dir(path, what))
                     if osp.isdir(osp.join(path, d)))
    if not classes:
        raise DatasetLayoutError(f'{what}: no class folders in {path}')
    return classes


def _images(folder: str) -> List[str]:
    return sorted(f for f in os.listdir(folder)
                  if f.lower().endswith(IMG_EXTENSIONS)
                  and osp.isfile(osp.join(folder, f)))


def _write_lines(path: str, lines: Sequence[str]) -> None:
    atomic_write_text(path, ''.join(f'{line}\n' for line in lines))


def _write_json(path: str, obj: dict) -> None:
    _write_lines(path, [json.dumps(obj, indent=2)])


def _shuffled(files: List[str], seed: int, name: str) -> List[str]:
    files = list(files)
    # A str seed goes through sha512: stable across runs and versions.
    random.Random(f'{seed}:{name}').shuffle(files)
    return files


# ---------------------------------------------------------------------------
# TinyImageNet
# ---------------------------------------------------------------------------
def tiny_imagenet_val_labels(root: str) -> Dict[str, object]:
    """Write ``<root>/val/val_labels.txt``: one ``"val_0.JPEG 107"`` line per
    line of the official ``val/val_annotations.txt``, the class index being
    the wnid's position in the sorted folder names of ``train/``.

    Args:
        root (str): The unpacked ``tiny-imagenet-200`` folder.

    Returns:
        dict: ``path`` (the file written), ``classes``, ``images``.
    """
    what = 'TinyImageNet'
    wnids = _class_folders(osp.join(root, 'train'), what)
    listed = osp.join(root, 'wnids.txt')
    if osp.isfile(listed):
        with open(listed) as f:
            official = {line.strip() for line in f if line.strip()}
        if official != set(wnids):
            diff = sorted(official ^ set(wnids))[:5]
            raise DatasetLayoutError(
                f'{what}: the class folders of {osp.join(root, "train")} '
                f'are not the wnids of {listed} (differ in e.g. {diff})')
    index = {wnid: i for i, wnid in enumerate(wnids)}
    images = _need_dir(osp.join(root, 'val', 'images'), what)
    ann = _need_file(osp.join(root, 'val', 'val_annotations.txt'), what)
    lines = []
    with open(ann) as f:
        for number, line in enumerate(f, 1):
            fields = line.split()
            if not fields:
                continue
            where = f'{what}: {ann}, line {number}'
            if len(fields) < 2:
                raise DatasetLayoutError(
                    f'{where}: expected "<file> <wnid> <box>", got '
                    f'{line.strip()!r}')
            name, wnid = fields[:2]
            if wnid not in index:
                raise DatasetLayoutError(
                    f'{where}: wnid {wnid!r} has no folder in '
                    f'{osp.join(root, "train")}')
            if not osp.isfile(osp.join(images, name)):
                raise DatasetLayoutError(
                    f'{where}: image not found: {osp.join(images, name)}')
            lines.append(f'{name} {index[wnid]}')
    if not lines:
        raise DatasetLayoutError(f'{what}: {ann} lists no image')
    path = osp.join(root, 'val', 'val_labels.txt')
    _write_lines(path, lines)
    return dict(path=path, classes=len(wnids), images=len(lines))


# ---------------------------------------------------------------------------
# Per-class splits (ImageNet-Sketch, Caltech-101)
# ---------------------------------------------------------------------------
def _split_counts(n: int, fractions: Sequence[float]) -> Tuple[int, ...]:
    """Images per split for a class of ``n``: every split but the first
    gets ``round(n * fraction)`` (at least 1), the first the rest."""
    rest = [max(1, round(n * f)) for f in fractions[1:]]
    return (n - sum(rest), *rest)


def _check_fractions(fractions: Sequence[float]) -> None:
    if (len(fractions) != 3 or any(f <= 0 for f in fractions)
            or abs(sum(fractions) - 1) > 1e-6):
        raise ValueError('fractions must be three positive numbers '
                         f'(train, val, test) that sum to 1, got {fractions}')


def imagenet_sketch_split(root: str,
                          fractions: Sequence[float] = SKETCH_FRACTIONS,
                          seed: int = SKETCH_SEED) -> Dict[str, object]:
    """Write ``<root>/meta/{train,val,test}.txt`` (one ``"<wnid>/<file>
    <class index>"`` line per image, the index being the wnid's position in
    the sorted folder names of ``sketch/``) and ``meta/split.json`` (seed,
    fractions, counts).

    Each class's images, sorted by name and shuffled with ``seed`` and the
    wnid, are cut into train / val / test by ``fractions``: for 50 images,
    35 / 5 / 10 at the default 70/10/20 %.

    Args:
        root (str): The folder holding the unpacked release ``sketch/``.
        fractions (Sequence[float]): Train, val and test shares of a class.
        seed (int): The split's seed (:data:`SKETCH_SEED` is the project's).

    Returns:
        dict: ``counts`` (images per split), ``classes``, ``seed``,
        ``fractions``, ``files`` (the annotation files written).
    """
    _check_fractions(fractions)
    what = 'ImageNet-Sketch'
    sketch = osp.join(root, 'sketch')
    wnids = _class_folders(sketch, what)
    splits = {name: [] for name in ('train', 'val', 'test')}
    for label, wnid in enumerate(wnids):
        files = _images(osp.join(sketch, wnid))
        if len(files) < 3:
            raise DatasetLayoutError(
                f'{what}: {osp.join(sketch, wnid)} holds {len(files)} '
                'images; a class needs at least 3 (one per split)')
        files = _shuffled(files, seed, wnid)
        start = 0
        for name, count in zip(splits, _split_counts(len(files), fractions)):
            splits[name] += [f'{wnid}/{f} {label}'
                             for f in sorted(files[start:start + count])]
            start += count
    return _write_split(root, splits, what, len(wnids),
                        dict(seed=seed, fractions=list(fractions)))


def caltech101_split(root: str,
                     train_per_class: int = CALTECH_TRAIN_PER_CLASS,
                     seed: int = CALTECH_SEED) -> Dict[str, object]:
    """Write ``<root>/meta/train.txt`` and ``test.txt`` (one ``"<class
    folder>/<file> <class index>"`` line per image; the index is the
    folder's position in the sorted folder names of
    ``101_ObjectCategories/``, mmpretrain's class order) and
    ``meta/split.json``: ``train_per_class`` images of each class, drawn
    with ``seed`` and the class name, for training, the rest for test.

    Args:
        root (str): The folder holding the unpacked ``101_ObjectCategories``.
        train_per_class (int): Training images per class (30: the usual
            protocol and mmpretrain's meta files, 3,060 images).
        seed (int): The split's seed.

    Returns:
        dict: As :func:`imagenet_sketch_split`.
    """
    what = 'Caltech-101'
    images = osp.join(root, '101_ObjectCategories')
    classes = _class_folders(images, what)
    splits = dict(train=[], test=[])
    for label, name in enumerate(classes):
        files = _images(osp.join(images, name))
        if len(files) <= train_per_class:
            raise DatasetLayoutError(
                f'{what}: {osp.join(images, name)} holds {len(files)} '
                f'images; a class needs more than {train_per_class} (the '
                'training images) to leave some for test')
        files = _shuffled(files, seed, name)
        splits['train'] += [f'{name}/{f} {label}'
                            for f in sorted(files[:train_per_class])]
        splits['test'] += [f'{name}/{f} {label}'
                           for f in sorted(files[train_per_class:])]
    return _write_split(root, splits, what, len(classes),
                        dict(seed=seed, train_per_class=train_per_class))


def _write_split(root, splits, what, num_classes, how):
    files = []
    for name, lines in splits.items():
        path = osp.join(root, 'meta', f'{name}.txt')
        _write_lines(path, lines)
        files.append(path)
    counts = {name: len(lines) for name, lines in splits.items()}
    info = dict(dataset=what, **how, classes=num_classes, counts=counts)
    _write_json(osp.join(root, 'meta', 'split.json'), info)
    return dict(info, files=files)


def describe_split(out: dict) -> str:
    """One line on a split written by :func:`imagenet_sketch_split` or
    :func:`caltech101_split`: classes, images per split, seed, files."""
    counts = ', '.join(f'{k} {v}' for k, v in out['counts'].items())
    return (f'{out["dataset"]}: {out["classes"]} classes, images: {counts} '
            f'(seed {out["seed"]}); written: {", ".join(out["files"])} and '
            'split.json')


# ---------------------------------------------------------------------------
# Before a pipeline runs: is every dataset there?
# ---------------------------------------------------------------------------
# data_root folder name -> how to make it (the layouts are documented in
# configs/_base_/datasets/).
PREPARE = {
    'cifar100': 'unpack cifar-100-python.tar.gz (www.cs.toronto.edu/~kriz/'
                'cifar.html) into it; nothing to convert',
    'tiny-imagenet-200': 'unpack tiny-imagenet-200.zip into its parent, then '
                         'python tools/dataset_converters/tiny_imagenet.py '
                         '{root}',
    'imagenet-sketch': 'unpack the ImageNet-Sketch release into {root}/'
                       'sketch, then python tools/dataset_converters/'
                       'imagenet_sketch.py {root}',
    'caltech-101': 'unpack 101_ObjectCategories.tar.gz into it, then python '
                   'tools/dataset_converters/caltech101.py {root}',
    'flowers102': 'unpack 102flowers.tgz (jpg/), imagelabels.mat and '
                  'setid.mat into it; nothing to convert',
    'CUB_200_2011': 'unpack CUB_200_2011.tgz into its parent; nothing to '
                    'convert',
    'Oxford-IIIT_Pets': 'unpack images.tar.gz and annotations.tar.gz into '
                        'it; nothing to convert',
}
# data_root folder name -> a file its converter writes: the folder is there
# but not ready while that file is missing.
CONVERTED = {
    'tiny-imagenet-200': 'val/val_labels.txt',
    'imagenet-sketch': 'meta/train.txt',
    'caltech-101': 'meta/train.txt',
}


def _data_roots(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == 'data_root' and isinstance(value, str) and value:
                yield value
            else:
                yield from _data_roots(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from _data_roots(value)


def missing_pipeline_data(config: str,
                          base_dir: Optional[str] = None) -> List[dict]:
    """The data roots of a pipeline config's teacher and student stages
    (the joint teacher reads its teachers' datasets) that do not exist.

    Args:
        config (str): A pipeline config (``configs/pipelines/t1.py``).
        base_dir (str, optional): What relative roots are relative to; the
            repository root, where tools/run_pipeline.py runs its stages.

    A folder whose converter has not run (:data:`CONVERTED`: the file it
    writes is missing) counts as missing too.

    Returns:
        list[dict]: ``root`` (as the config names it), ``path`` (resolved),
        ``stages`` (the stage keys that read it), ``prepare`` (how to make
        it, or None), ``unconverted`` (the converter's missing file when
        the folder exists, else None), in the order the pipeline first
        needs them.
    """
    from mmengine.config import Config
    base_dir = base_dir or osp.dirname(osp.dirname(osp.dirname(
        osp.abspath(__file__))))
    pipe = Config.fromfile(config)
    stages = [(f'teachers/{k}', v) for k, v in pipe.teachers.items()]
    stages += [(f'students/{k}', v)
               for k, v in (pipe.get('students') or {}).items()]
    missing = {}
    for key, stage_config in stages:
        cfg = Config.fromfile(stage_config)
        loaders = [cfg.get(f'{s}_dataloader') for s in ('train', 'val',
                                                          'test')]
        for root in _data_roots(loaders):
            path = osp.normpath(osp.join(base_dir, root))
            name = osp.basename(osp.normpath(root))
            unconverted = None
            if osp.isdir(path):
                written = CONVERTED.get(name)
                if not written or osp.isfile(osp.join(path, written)):
                    continue
                unconverted = osp.join(path, written)
            entry = missing.setdefault(root, dict(
                root=root, path=path, stages=[], prepare=PREPARE.get(name),
                unconverted=unconverted))
            if key not in entry['stages']:
                entry['stages'].append(key)
    for entry in missing.values():
        if entry['prepare']:
            entry['prepare'] = entry['prepare'].format(root=entry['root'])
    return list(missing.values())


def check_pipeline_data(config: str, base_dir: Optional[str] = None) -> None:
    """Raise :class:`MissingDatasetError` (a FileNotFoundError) listing
    every missing dataset folder of a pipeline (see
    :func:`missing_pipeline_data`) and how to make it, before any stage
    starts."""
    missing = missing_pipeline_data(config, base_dir)
    if not missing:
        return
    lines = [f'{config}: {len(missing)} dataset folder(s) missing or not '
             'converted:']
    for entry in missing:
        state = (f'converter not run: no {entry["unconverted"]}'
                 if entry['unconverted'] else f'resolved to {entry["path"]}')
        lines.append(f'  {entry["root"]} ({state}; read by '
                     f'{", ".join(entry["stages"])})')
        if entry['prepare']:
            lines.append(f'    to make it: {entry["prepare"]}')
    if not os.environ.get(DATA_ROOT_ENV):
        lines.append(f'Datasets kept elsewhere: set {DATA_ROOT_ENV} to the '
                     'folder that holds them.')
    raise MissingDatasetError('\n'.join(lines))
