"""Write Caltech-101's split (meta/train.txt: 30 images per class, drawn
with a fixed seed; meta/test.txt: the rest; meta/split.json with the seed
and the counts), as configs/_base_/datasets/caltech101.py reads it.

    python tools/dataset_converters/caltech101.py [data/caltech-101]

OpenMMLab's caltech_meta.zip is another such split (same format); use one
or the other for every run you compare.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))
from mlfd_mm.apis.dataset_converters import (  # noqa: E402
    CALTECH_SEED, CALTECH_TRAIN_PER_CLASS, DatasetLayoutError,
    caltech101_split, default_root, describe_split)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('root', nargs='?',
                        default=default_root('caltech-101'),
                        help='the folder holding 101_ObjectCategories/')
    parser.add_argument('--seed', type=int, default=CALTECH_SEED)
    parser.add_argument('--train-per-class', type=int,
                        default=CALTECH_TRAIN_PER_CLASS)
    args = parser.parse_args(argv)
    try:
        out = caltech101_split(args.root, args.train_per_class, args.seed)
    except DatasetLayoutError as e:
        sys.exit(f'error: {e}')
    print(describe_split(out))


if __name__ == '__main__':
    main()
