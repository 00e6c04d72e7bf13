"""Write TinyImageNet's val/val_labels.txt (class indices) from the official
val/val_annotations.txt, as configs/_base_/datasets/tiny_imagenet.py reads
it.

    python tools/dataset_converters/tiny_imagenet.py [data/tiny-imagenet-200]
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))
from mlfd_mm.apis.dataset_converters import (  # noqa: E402
    DatasetLayoutError, default_root, tiny_imagenet_val_labels)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('root', nargs='?',
                        default=default_root('tiny-imagenet-200'),
                        help='the unpacked tiny-imagenet-200.zip')
    args = parser.parse_args(argv)
    try:
        out = tiny_imagenet_val_labels(args.root)
    except DatasetLayoutError as e:
        sys.exit(f'error: {e}')
    print(f'{out["path"]}: {out["images"]} validation images, '
          f'{out["classes"]} classes')


if __name__ == '__main__':
    main()
