"""Checks run before a train or test run does any work, each turning a
mistake that would otherwise give a silent wrong answer (or an error deep
inside a library) into a message naming the culprit.

- :mod:`.loaders`: every ``data_root`` exists; clips have the frames of
  the model's ``num_segments``.
- :mod:`.annotations`: annotation files of ``CustomDataset`` loaders
  (empty files, malformed lines, labels outside ``[0, num_classes)``).
- :mod:`.datasets`: a student's ``dataset`` against its data, the input
  sizes of a multi-dataset loader, evaluators' ``topk`` against the
  datasets' class counts.
- :mod:`.cfg_options`: ``--cfg-options`` keys that match nothing.
- :mod:`.checkpoint_fit`: a checkpoint's state dict against the model a
  run built, before it tests or resumes.
"""
from .annotations import AnnotationError, check_annotation_files
from .cfg_options import check_cfg_options
from .checkpoint_fit import check_checkpoint_fits
from .datasets import (check_input_sizes, check_student_dataset,
                       check_topk)
from .loaders import check_clip_frames, check_data_roots

__all__ = [
    'AnnotationError', 'check_annotation_files', 'check_cfg_options',
    'check_checkpoint_fits', 'check_input_sizes', 'check_student_dataset',
    'check_topk', 'check_datasets', 'check_clip_frames', 'check_data_roots'
]


def check_datasets(cfg, phases):
    """Run every data check of this package on the loaders ``phases`` of a
    run (``data_root`` and clip checks: :mod:`.loaders`)."""
    check_annotation_files(cfg, phases)
    check_input_sizes(cfg, phases)
    check_topk(cfg, phases)
    if 'train_dataloader' in phases:
        check_student_dataset(cfg)
