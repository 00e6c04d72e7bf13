"""Write ImageNet-Sketch's fixed per-class stratified split (meta/train.txt,
val.txt, test.txt and meta/split.json with the seed and the counts), as
configs/_base_/datasets/imagenet_sketch.py reads it.

    python tools/dataset_converters/imagenet_sketch.py [data/imagenet-sketch]

The defaults (seed 0, 70/10/20 % of each class) are the project's split:
results on other splits are not comparable.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))
from mlfd_mm.apis.dataset_converters import (  # noqa: E402
    SKETCH_FRACTIONS, SKETCH_SEED, DatasetLayoutError, default_root,
    describe_split, imagenet_sketch_split)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('root', nargs='?',
                        default=default_root('imagenet-sketch'),
                        help='the folder holding the unpacked sketch/')
    parser.add_argument('--seed', type=int, default=SKETCH_SEED)
    parser.add_argument('--fractions', type=float, nargs=3,
                        default=list(SKETCH_FRACTIONS),
                        metavar=('TRAIN', 'VAL', 'TEST'))
    args = parser.parse_args(argv)
    try:
        out = imagenet_sketch_split(args.root, args.fractions, args.seed)
    except DatasetLayoutError as e:
        sys.exit(f'error: {e}')
    except ValueError as e:
        parser.error(str(e))
    print(describe_split(out))


if __name__ == '__main__':
    main()
