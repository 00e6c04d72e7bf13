"""Per-dataset metrics; classes are registered at import."""
from .multi_dataset_metric import MultiDatasetMetric, format_table

__all__ = ['MultiDatasetMetric', 'format_table']
