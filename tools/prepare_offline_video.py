"""Build the offline video datasets into data/offline_video/ (idempotent).

Synthetic motion over real frames: clips of the offline real images (built
first by tools/prepare_offline_data.py) moving along seeded random
trajectories, written as mp4 files for mmaction2's VideoDataset.

    python tools/prepare_offline_video.py [--names direction motion objmotion]
        [--root data/offline_video] [--image-root data/offline] [--seed 0]
        [--force]
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..')))
from mlfd_mm.apis.offline_data import (  # noqa: E402
    OFFLINE_VIDEO_DATASETS, prepare_offline_videos, unknown_names)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--names', nargs='+', default=list(OFFLINE_VIDEO_DATASETS),
        help=f'any of: {", ".join(OFFLINE_VIDEO_DATASETS)}')
    parser.add_argument('--root', default='data/offline_video')
    parser.add_argument('--image-root', default='data/offline',
                        help='where tools/prepare_offline_data.py wrote the '
                        'source images')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--force', action='store_true',
                        help='rebuild even if up to date')
    args = parser.parse_args(argv)
    unknown = unknown_names(args.names, OFFLINE_VIDEO_DATASETS,
                            'offline video dataset')
    if unknown:
        parser.error(unknown)
    try:
        prepare_offline_videos(args.names, args.root, args.image_root,
                               args.seed, args.force)
    except FileNotFoundError as err:
        sys.exit(f'error: {err}')


if __name__ == '__main__':
    main()
