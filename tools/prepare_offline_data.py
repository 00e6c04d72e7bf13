"""Build the offline real image datasets into data/offline/ (idempotent).

    python tools/prepare_offline_data.py [--names mnist fashion animals digits]
        [--root data/offline] [--train-size 1000] [--seed 0] [--force]
"""
import argparse
import json
import os.path as osp
import sys
import time

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..')))
from mlfd_mm.datasets.offline import (OFFLINE_DATASETS,  # noqa: E402
                                      build_offline_dataset)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--names', nargs='+', default=list(OFFLINE_DATASETS),
                        help=f'any of: {", ".join(OFFLINE_DATASETS)}')
    parser.add_argument('--root', default='data/offline')
    parser.add_argument('--train-size', type=int, default=1000)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--force', action='store_true')
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in OFFLINE_DATASETS]
    if unknown:
        parser.error(f'unknown offline dataset(s) {unknown}; valid names: '
                     f'{", ".join(OFFLINE_DATASETS)}')
    for name in args.names:
        start = time.time()
        folder = build_offline_dataset(name, args.root, args.train_size,
                                       args.seed, args.force)
        with open(osp.join(folder, 'meta', 'info.json')) as f:
            counts = {k: sum(v) for k, v in json.load(f)['counts'].items()}
        print(f'{name:8s} {folder}: {counts} ({time.time() - start:.1f} s)')


if __name__ == '__main__':
    main()
