"""Tiny copies of the paper's datasets in their official layouts (what the
converter tests and the tiny T1 pipeline run build in a temp dir).

Images are small (8 px by default) and plain; the configs resize them to
224 px. Each builder returns the dataset folder (a pathlib.Path) that its
data root names (``configs/_base_/datasets/<name>.py``).
"""
import os
import pickle

import cv2
import numpy as np

# TinyImageNet: wnids.txt is not sorted; class indices follow the sorted
# folder names.
TINY_WNIDS = ('n03', 'n01', 'n02')
TINY_VAL = (('val_0.JPEG', 'n03'), ('val_1.JPEG', 'n01'),
            ('val_2.JPEG', 'n02'), ('val_3.JPEG', 'n03'))
# ImageNet-Sketch: images per class.
SKETCH_CLASSES = dict(n02=10, n01=20, n03=5)


def write_jpeg(path, size=8, value=128):
    """A ``size`` x ``size`` grey JPEG at ``path`` (folders made)."""
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    cv2.imwrite(str(path), np.full((size, size, 3), value, np.uint8))


def make_tiny_imagenet(parent, wnids=TINY_WNIDS, val=TINY_VAL,
                       train_per_class=1, size=8):
    """``<parent>/tiny-imagenet-200`` as the official zip unpacks: train/
    (``<wnid>/images/*.JPEG`` and ``<wnid>_boxes.txt``), wnids.txt, val/
    (images/ and val_annotations.txt)."""
    root = parent / 'tiny-imagenet-200'
    for i, wnid in enumerate(wnids):
        boxes = []
        for k in range(train_per_class):
            name = f'{wnid}_{k}.JPEG'
            write_jpeg(root / 'train' / wnid / 'images' / name, size,
                       40 + 80 * i)
            boxes.append(f'{name}\t0\t0\t{size - 1}\t{size - 1}\n')
        (root / 'train' / wnid / f'{wnid}_boxes.txt').write_text(
            ''.join(boxes))
    (root / 'wnids.txt').write_text('\n'.join(wnids) + '\n')
    for name, _ in val:
        write_jpeg(root / 'val' / 'images' / name, size)
    (root / 'val' / 'val_annotations.txt').write_text(''.join(
        f'{name}\t{wnid}\t0\t0\t{size - 1}\t{size - 1}\n'
        for name, wnid in val))
    return root


def make_imagenet_sketch(parent, classes=SKETCH_CLASSES, size=8):
    """``<parent>/imagenet-sketch/sketch/<wnid>/sketch_<k>.JPEG``: the
    release as unpacked (``classes``: wnid -> number of images)."""
    root = parent / 'imagenet-sketch'
    for i, (wnid, n) in enumerate(sorted(classes.items())):
        for k in range(n):
            write_jpeg(root / 'sketch' / wnid / f'sketch_{k}.JPEG', size,
                       40 + 80 * i)
    return root


def make_cifar100(parent, train_labels=(0, 1, 2, 0, 1, 2),
                  test_labels=(0, 1, 2), seed=0, name='cifar100'):
    """``<parent>/<name>/cifar-100-python/{train,test,meta}``: the
    official python pickles (dicts of ``data`` N x 3072 uint8 rows, channel
    planes R, G, B of 32 x 32, and ``fine_labels``) for random images with
    the given labels. Their md5 sums are not the release's: mmpretrain's
    CIFAR100 reads them only with its checksums off (conftest's
    ``cifar_checksums_off`` here, ``unchecked_cifar.py`` in a subprocess)."""
    root = parent / name
    folder = root / 'cifar-100-python'
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for split, labels in (('train', train_labels), ('test', test_labels)):
        entry = {
            'filenames': [f'{split}_{k}.png' for k in range(len(labels))],
            'batch_label': f'tiny {split} batch',
            'fine_labels': list(labels),
            'coarse_labels': [label // 5 for label in labels],
            'data': rng.integers(0, 256, (len(labels), 3072), np.uint8),
        }
        with open(folder / split, 'wb') as f:
            pickle.dump(entry, f)
    with open(folder / 'meta', 'wb') as f:
        pickle.dump({'fine_label_names': [f'class{k}' for k in range(100)],
                     'coarse_label_names': [f'super{k}' for k in range(20)]},
                    f)
    return root
