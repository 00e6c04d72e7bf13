"""Build the offline real image datasets into data/offline/ (idempotent).

    python tools/prepare_offline_data.py [--names mnist fashion animals digits]
        [--root data/offline] [--train-size 1000] [--seed 0] [--force]
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..')))
from mlfd_mm.apis.offline_data import (OFFLINE_DATASETS,  # noqa: E402
                                       prepare_offline_images, unknown_names)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--names', nargs='+', default=list(OFFLINE_DATASETS),
                        help=f'any of: {", ".join(OFFLINE_DATASETS)}')
    parser.add_argument('--root', default='data/offline')
    parser.add_argument('--train-size', type=int, default=1000)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--force', action='store_true')
    args = parser.parse_args(argv)
    unknown = unknown_names(args.names, OFFLINE_DATASETS, 'offline dataset')
    if unknown:
        parser.error(unknown)
    prepare_offline_images(args.names, args.root, args.train_size, args.seed,
                           args.force)


if __name__ == '__main__':
    main()
