"""Datasets and samplers; classes are registered at import."""
from . import offline  # noqa: F401  (builders; registers nothing)
from .checked_video import CheckedVideoDataset, CorruptVideoError
from .collate import StackedInputs, stack_collate, stack_collate_list
from .multi_dataset import MultiDatasetWrapper
from .samplers import MultiDatasetSampler

__all__ = [
    'CheckedVideoDataset', 'CorruptVideoError', 'MultiDatasetSampler',
    'MultiDatasetWrapper', 'StackedInputs', 'stack_collate',
    'stack_collate_list'
]
