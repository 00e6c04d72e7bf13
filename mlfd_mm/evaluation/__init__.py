"""Per-dataset metrics; classes are registered at import."""
from .acc_map_metric import AccMAPMetric
from .multi_dataset_metric import MultiDatasetMetric, format_table

__all__ = ['AccMAPMetric', 'MultiDatasetMetric', 'format_table']
