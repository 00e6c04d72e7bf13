"""Annotation files of ``CustomDataset`` loaders, read before a run starts:
an empty file, a blank or malformed line, or a label outside
``[0, num_classes)`` is an error naming the file and the line.

mmpretrain's ``CustomDataset`` reads ``<filename> <label>`` lines; it
fails on such files with messages that name neither file nor line
(``need at least one array to concatenate``, ``not enough values to
unpack``), or not at all: a label of 12 in a 10-class validation file is
counted as a wrong prediction.
"""
import os.path as osp
from typing import Optional

from .datasets import loader_datasets, num_classes_of

# How many bad lines a message lists.
_LISTED = 5


class AnnotationError(ValueError):
    """An annotation file that a dataset cannot read correctly."""


def annotation_path(dataset: dict) -> Optional[str]:
    """The annotation file of a ``CustomDataset`` config, resolved against
    its ``data_root`` as mmengine's BaseDataset does, or None."""
    if str(dataset.get('type', '')).split('.')[-1] != 'CustomDataset':
        return None
    ann = dataset.get('ann_file') or ''
    if not ann or dataset.get('with_label') is False:
        return None
    root = dataset.get('data_root') or ''
    return ann if osp.isabs(ann) or not root else osp.join(root, ann)


def _read_labels(path):
    """[(line number, label)] of a ``<filename> <label>`` file; raise
    AnnotationError naming the file and the first bad lines."""
    labels, bad = [], []
    with open(path) as f:
        for number, line in enumerate(f, start=1):
            parts = line.strip().rsplit(' ', 1)
            if len(parts) != 2 or not parts[0].strip():
                what = 'blank line' if not line.strip() else (
                    f'no "<filename> <label>" in {line.strip()!r}')
                bad.append(f'line {number}: {what}')
                continue
            try:
                labels.append((number, int(parts[1])))
            except ValueError:
                bad.append(f'line {number}: label {parts[1]!r} is not an '
                           'integer')
    if bad:
        more = (f' and {len(bad) - _LISTED} more'
                if len(bad) > _LISTED else '')
        raise AnnotationError(
            f'annotation file {path}: {len(bad)} malformed line(s): '
            + '; '.join(bad[:_LISTED]) + more
            + ' (each line must be "<filename> <integer label>")')
    if not labels:
        raise AnnotationError(
            f'annotation file {path} is empty: it lists no samples (each '
            'line must be "<filename> <integer label>")')
    return labels


def check_annotation_file(path, num_classes=None, where=''):
    """Read one ``<filename> <label>`` annotation file and check it.

    Args:
        path (str): the file.
        num_classes (int, optional): labels must lie in
            ``[0, num_classes)``; without it, only ``>= 0``.
        where (str): the config key of its dataset, for the message.

    Returns:
        int: the number of samples.

    Raises:
        AnnotationError: empty file, blank or malformed line, label out of
        range; the message names the file and the lines.
    """
    labels = _read_labels(path)
    top = num_classes if num_classes is not None else None
    outside = [(n, label) for n, label in labels
               if label < 0 or (top is not None and label >= top)]
    if outside:
        listed = ', '.join(f'line {n}: {label}'
                           for n, label in outside[:_LISTED])
        more = (f' and {len(outside) - _LISTED} more'
                if len(outside) > _LISTED else '')
        bound = f'[0, {top})' if top is not None else '>= 0'
        of = f' ({where} has {top} classes)' if where and top else ''
        raise AnnotationError(
            f'annotation file {path}: {len(outside)} label(s) outside '
            f'{bound}{of}: {listed}{more}')
    return len(labels)


def check_annotation_files(cfg, phases):
    """Check the annotation file of every ``CustomDataset`` the loaders
    ``phases`` build (see :func:`check_annotation_file`); class counts come
    from each dataset's ``metainfo.classes``, else from the model.

    Files that do not exist are left to the dataset's own error.
    """
    for phase in phases:
        for where, name, dataset in loader_datasets(cfg, phase):
            path = annotation_path(dataset)
            if path is None or not osp.isfile(path):
                continue
            count, _ = num_classes_of(cfg, dataset, name)
            check_annotation_file(path, count, where)
