"""Datasets and samplers; classes are registered at import."""
from .multi_dataset import MultiDatasetWrapper
from .samplers import MultiDatasetSampler

__all__ = ['MultiDatasetSampler', 'MultiDatasetWrapper']
