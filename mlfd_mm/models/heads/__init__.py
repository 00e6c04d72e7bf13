"""Heads with one classifier per dataset."""
from .multi_dataset_head import MultiDatasetClsHead

__all__ = ['MultiDatasetClsHead']
