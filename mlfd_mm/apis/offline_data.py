"""Build the offline image and video datasets (tools/prepare_offline_*.py),
reporting what each build wrote."""
import json
import os.path as osp
import time

from ..datasets.offline import OFFLINE_DATASETS, build_offline_dataset
from ..datasets.offline_video import (OFFLINE_VIDEO_DATASETS,
                                      build_offline_video_dataset,
                                      load_offline_video_info)


def unknown_names(names, known, what):
    """A message naming the entries of ``names`` not in ``known``, or None
    when all are known."""
    unknown = [n for n in names if n not in known]
    if not unknown:
        return None
    return (f'unknown {what}(s) {unknown}; valid names: '
            f'{", ".join(known)}')


def prepare_offline_images(names, root='data/offline', train_size=1000,
                           seed=0, force=False):
    """Build the offline real image datasets (idempotent) and print each
    one's folder and sample counts.

    Args:
        names (Sequence[str]): any of ``OFFLINE_DATASETS``.
        root (str): where the datasets are written.
        train_size (int): training images per dataset.
        seed (int): seeds the sampling and split.
        force (bool): rebuild even if up to date.
    """
    for name in names:
        start = time.time()
        folder = build_offline_dataset(name, root, train_size, seed, force)
        with open(osp.join(folder, 'meta', 'info.json')) as f:
            counts = {k: sum(v) for k, v in json.load(f)['counts'].items()}
        print(f'{name:8s} {folder}: {counts} ({time.time() - start:.1f} s)')


def prepare_offline_videos(names, root='data/offline_video',
                           image_root='data/offline', seed=0, force=False):
    """Build the offline video datasets (idempotent) from the offline images
    and print each one's folder, clips and classes.

    Args:
        names (Sequence[str]): any of ``OFFLINE_VIDEO_DATASETS``.
        root (str): where the clips are written.
        image_root (str): where the offline image datasets are.
        seed (int): seeds the trajectories.
        force (bool): rebuild even if up to date.
    """
    for name in names:
        start = time.time()
        folder = build_offline_video_dataset(
            name, root=root, image_root=image_root, seed=seed, force=force)
        info = load_offline_video_info(name, root)
        print(f'{name:9s} {folder}: {info["num_clips"]} clips, '
              f'{len(info["classes"])} classes ({time.time() - start:.1f} s)')

