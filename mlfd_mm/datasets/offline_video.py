"""Offline video datasets: synthetic motion over real frames.

No labelled real video can be installed here, so these clips are made from
the offline real *image* datasets (``tools/prepare_offline_data.py``): one
real 32x32 image (a digit, a garment, an animal silhouette) is moved,
rotated or scaled over a noisy background along a trajectory drawn from a
seeded random generator, and the frames are written as real mp4 files (MPEG-4
part 2, ``mp4v``) that decord decodes through mmaction2's ``VideoDataset``
and its ``DecordInit`` / ``SampleFrames`` / ``DecordDecode`` pipeline. The
frames are real images; the motion is synthetic. Nothing here pretends to be
natural video.

Three datasets with distinct label sets:

==========  =======  =========================================  ==========
name        source   label                                      classes
==========  =======  =========================================  ==========
direction   mnist    direction of a straight-line motion         8
motion      animals  kind of motion (rotate cw/ccw, zoom         6
                     in/out, shake, static)
objmotion   fashion  garment (5 kinds) x motion                  10
                     (slide, spin)
==========  =======  =========================================  ==========

``direction`` and ``motion`` need the order of the frames (cw and ccw, zoom
in and out, east and west contain the same poses in reverse order), which a
TSM sees and an order-free TSN does not; ``objmotion`` can be told from
single frames (garment class; upright sliding vs tilted spinning), which
suits a TSN.

Layout of a built dataset (read by ``VideoDataset`` with
``data_root=data/offline_video/<name>``, ``ann_file='meta/<split>.txt'``)::

    data/offline_video/<name>/
    ├── videos/{train,val,test}/00000.mp4 ...
    └── meta/
        ├── {train,val,test}.txt          # "videos/train/00000.mp4 3"
        ├── {train,val,test}_sources.txt  # the source image of each clip
        ├── classes.txt
        └── info.json                     # parameters, classes, counts

The video splits are made from the same image splits (train clips from train
images only, etc.), so no image is shared between video splits.
"""
import hashlib
import json
import os
import os.path as osp
import shutil
import tempfile
import time
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np

from .synthetic_motion import (CANVAS_SIZE, COMPASS, FPS, KINDS_OF_MOTION,
                               NUM_FRAMES, OBJECT_MOTIONS, OBJECT_SIZE,
                               TRAJECTORIES, check_decodes, render_clip,
                               write_mp4)

SPLITS = ('train', 'val', 'test')

# Bump when the generator changes: a dataset built by an older generator is
# rebuilt instead of silently reused.
GENERATOR_VERSION = 2

# Fashion-MNIST labels 0, 1, 5, 8, 9: garments that stay distinct at 16 px.
_GARMENTS = {0: 'tshirt', 1: 'trouser', 5: 'sandal', 8: 'bag', 9: 'ankle_boot'}

OFFLINE_VIDEO_DATASETS: Dict[str, dict] = {
    'direction':
    dict(
        # Seeds this dataset's random streams with the user's seed; fixed
        # per dataset, so adding a dataset changes no other one.
        stream_id=0,
        source='mnist',
        classes=tuple(f'move_{d}' for d in COMPASS),
        clips_per_class=dict(train=60, val=30, test=36),
        description='a digit moving in one of 8 compass directions'),
    'motion':
    dict(
        stream_id=1,
        source='animals',
        classes=KINDS_OF_MOTION,
        clips_per_class=dict(train=80, val=40, test=50),
        description='an animal silhouette rotating clockwise or '
        'counter-clockwise, zooming in or out, shaking or static, '
        'while drifting slowly'),
    'objmotion':
    dict(
        stream_id=2,
        source='fashion',
        # Each garment sliding or spinning; label = 2 * k + motion, where k
        # indexes object_labels (source labels of Fashion-MNIST).
        object_labels=tuple(_GARMENTS),
        classes=tuple(f'{garment}_{motion}'
                      for garment in _GARMENTS.values()
                      for motion in OBJECT_MOTIONS),
        clips_per_class=dict(train=48, val=24, test=30),
        description='one of 5 garments sliding upright or spinning in '
        'place'),
}


# --------------------------------------------------------------------------
# Source images.
# --------------------------------------------------------------------------
def _source_dir(image_root: str, source: str) -> str:
    return osp.join(image_root, source)


def _read_source_split(image_root: str, source: str,
                       split: str) -> Dict[int, List[str]]:
    """Image paths (relative to the source's folder) of one split of an
    offline image dataset, by label."""
    meta = osp.join(_source_dir(image_root, source), 'meta', f'{split}.txt')
    if not osp.isfile(meta):
        raise FileNotFoundError(
            f'Offline image dataset "{source}" not found: {meta} does not '
            f'exist. Build the source images first with `python '
            f'tools/prepare_offline_data.py` (it writes {image_root}/'
            f'{source}/), or pass image_root=<the folder that holds '
            f'{source}/>.')
    by_label: Dict[int, List[str]] = {}
    with open(meta) as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rel_path, label = line.split()
                label = int(label)
            except ValueError:
                raise ValueError(
                    f'{meta}, line {line_no}: expected "<path> <label>", '
                    f'got {line.strip()!r}') from None
            by_label.setdefault(label, []).append(rel_path)
    if not by_label:
        raise ValueError(f'{meta} lists no images')
    return by_label


def _load_object(path: str) -> np.ndarray:
    image = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise FileNotFoundError(f'Cannot read source image {path}')
    if image.shape != (OBJECT_SIZE, OBJECT_SIZE):
        image = cv2.resize(image, (OBJECT_SIZE, OBJECT_SIZE),
                           interpolation=cv2.INTER_AREA)
    return image.astype(np.float32) / 255.0


def _source_fingerprint(image_root: str, source: str) -> str:
    """Hash of the source's split files: a rebuilt source changes it."""
    digest = hashlib.sha1()
    for split in SPLITS:
        meta = osp.join(_source_dir(image_root, source), 'meta',
                        f'{split}.txt')
        with open(meta, 'rb') as f:
            digest.update(f.read())
    return digest.hexdigest()


def _image_cycle(rng: np.random.Generator, paths: List[str],
                 count: int) -> List[str]:
    """``count`` paths, each used once before any is used again."""
    order: List[str] = []
    while len(order) < count:
        order.extend(paths[i] for i in rng.permutation(len(paths)))
    return order[:count]


# --------------------------------------------------------------------------
# Building.
# --------------------------------------------------------------------------
def _check_name(name: str) -> dict:
    if name not in OFFLINE_VIDEO_DATASETS:
        raise KeyError(
            f'Unknown offline video dataset "{name}"; valid names: '
            f'{", ".join(sorted(OFFLINE_VIDEO_DATASETS))}')
    return OFFLINE_VIDEO_DATASETS[name]


def _build_split(name: str, spec: dict, split: str, out_dir: str,
                 image_root: str, seed: int, clips_per_class: int,
                 num_frames: int) -> List[Tuple[str, int, str]]:
    # One independent stream per (dataset, split): changing the size of one
    # split does not change the clips of another.
    rng = np.random.default_rng(
        [seed, spec['stream_id'], SPLITS.index(split)])
    images = _read_source_split(image_root, spec['source'], split)
    num_classes = len(spec['classes'])
    labels = np.repeat(np.arange(num_classes), clips_per_class)
    labels = labels[rng.permutation(len(labels))]

    if 'object_labels' in spec:
        object_labels = spec['object_labels']
        missing = [k for k in object_labels if k not in images]
        if missing:
            raise ValueError(
                f'Offline video dataset "{name}" needs images of source '
                f'labels {missing} in the {split} split of "{spec["source"]}"'
                f', which has labels {sorted(images)}')
        per_object = {
            k: iter(_image_cycle(rng, images[k], len(labels)))
            for k in object_labels
        }
        sources = [
            next(per_object[object_labels[label // len(OBJECT_MOTIONS)]])
            for label in labels
        ]
    else:
        all_paths = [p for k in sorted(images) for p in images[k]]
        sources = _image_cycle(rng, all_paths, len(labels))

    trajectory = TRAJECTORIES[name]
    video_dir = osp.join(out_dir, 'videos', split)
    os.makedirs(video_dir)
    entries = []
    for index, (label, source) in enumerate(zip(labels, sources)):
        poses = trajectory(rng, int(label), num_frames)
        image = _load_object(
            osp.join(_source_dir(image_root, spec['source']), source))
        frames = render_clip(rng, image, poses)
        rel_path = f'videos/{split}/{index:05d}.mp4'
        write_mp4(osp.join(out_dir, rel_path), frames)
        entries.append((rel_path, int(label), source))
    check_decodes(osp.join(out_dir, entries[0][0]), num_frames)
    return entries


def build_offline_video_dataset(name: str,
                                root: str = 'data/offline_video',
                                image_root: str = 'data/offline',
                                seed: int = 0,
                                force: bool = False,
                                *,
                                clips_per_class: Optional[Dict[str,
                                                               int]] = None,
                                num_frames: int = NUM_FRAMES) -> str:
    """Build one offline video dataset (synthetic motion over real frames).

    Deterministic for a seed and idempotent: a dataset already built with
    the same parameters (and the same source images) is reused; otherwise it
    is built in a temporary folder next to the target and renamed into place,
    so an interrupted build never leaves a half-written dataset behind.

    Args:
        name (str): One of :data:`OFFLINE_VIDEO_DATASETS`.
        root (str): Where the video datasets go; the dataset is written to
            ``<root>/<name>``. Defaults to ``'data/offline_video'``.
        image_root (str): Where ``tools/prepare_offline_data.py`` wrote the
            offline image datasets. Defaults to ``'data/offline'``.
        seed (int): Seed of every random choice. Defaults to 0.
        force (bool): Rebuild even if an identical dataset exists.
        clips_per_class (dict, optional): Clips per class for each of
            ``'train'``, ``'val'``, ``'test'``; missing splits keep the
            dataset's defaults. Small values make test fixtures.
        num_frames (int): Frames per clip. Defaults to 16.

    Returns:
        str: The dataset folder, ``<root>/<name>``.
    """
    spec = _check_name(name)
    counts = dict(spec['clips_per_class'])
    for split, count in (clips_per_class or {}).items():
        if split not in counts:
            raise KeyError(f'clips_per_class: unknown split "{split}"; '
                           f'valid splits: {", ".join(SPLITS)}')
        if int(count) < 1:
            raise ValueError(
                f'clips_per_class["{split}"] must be >= 1, got {count}')
        counts[split] = int(count)
    if num_frames < 1:
        raise ValueError(f'num_frames must be >= 1, got {num_frames}')
    # Fails early, with the tool to run, when the source is missing.
    for split in SPLITS:
        _read_source_split(image_root, spec['source'], split)

    params = dict(
        name=name,
        seed=int(seed),
        source=spec['source'],
        source_fingerprint=_source_fingerprint(image_root, spec['source']),
        generator_version=GENERATOR_VERSION,
        canvas_size=CANVAS_SIZE,
        num_frames=int(num_frames),
        fps=FPS,
        clips_per_class=counts,
    )
    out_dir = osp.join(root, name)
    info_path = osp.join(out_dir, 'meta', 'info.json')
    if not force and osp.isfile(info_path):
        with open(info_path) as f:
            if json.load(f).get('params') == params:
                return out_dir

    os.makedirs(root, exist_ok=True)
    tmp_dir = tempfile.mkdtemp(prefix=f'.{name}-building-', dir=root)
    os.chmod(tmp_dir, 0o755)  # mkdtemp's 0o700 would hide it from others
    os.makedirs(osp.join(tmp_dir, 'meta'))
    start = time.time()
    try:
        num_clips = {}
        for split in SPLITS:
            entries = _build_split(name, spec, split, tmp_dir, image_root,
                                   seed, counts[split], num_frames)
            with open(osp.join(tmp_dir, 'meta', f'{split}.txt'), 'w') as f:
                f.writelines(f'{path} {label}\n' for path, label, _ in entries)
            # Provenance: which source image each clip shows.
            with open(osp.join(tmp_dir, 'meta', f'{split}_sources.txt'),
                      'w') as f:
                f.writelines(f'{path} {source}\n'
                             for path, _, source in entries)
            num_clips[split] = len(entries)
        with open(osp.join(tmp_dir, 'meta', 'classes.txt'), 'w') as f:
            f.write('\n'.join(spec['classes']) + '\n')
        info = dict(
            params=params,
            description=spec['description'],
            classes=list(spec['classes']),
            num_clips=num_clips,
            frame_shape=[CANVAS_SIZE, CANVAS_SIZE, 3],
            build_seconds=round(time.time() - start, 1),
        )
        with open(osp.join(tmp_dir, 'meta', 'info.json'), 'w') as f:
            json.dump(info, f, indent=2)
        # Swap in with renames only; the old copy is deleted afterwards.
        old_dir = tmp_dir + '.old'
        if osp.exists(out_dir):
            os.rename(out_dir, old_dir)
        os.rename(tmp_dir, out_dir)
        shutil.rmtree(old_dir, ignore_errors=True)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return out_dir


def load_offline_video_info(name: str,
                            root: str = 'data/offline_video') -> dict:
    """The ``meta/info.json`` of a built offline video dataset.

    Raises:
        FileNotFoundError: If the dataset was not built, naming the tool
            that builds it.
    """
    _check_name(name)
    info_path = osp.join(root, name, 'meta', 'info.json')
    if not osp.isfile(info_path):
        raise FileNotFoundError(
            f'Offline video dataset "{name}" is not built ({info_path} does '
            'not exist); run `python tools/prepare_offline_video.py`')
    with open(info_path) as f:
        return json.load(f)
