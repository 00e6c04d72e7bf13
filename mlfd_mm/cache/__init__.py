"""Teacher-feature cache: the frozen teachers' maps computed once, stored as
one file per shard with a manifest, read back through the data loader.

Build with ``tools/cache_features.py``; train from it with
``model.feature_cache=dict(root=...)`` and the loaders' datasets wrapped in
:class:`CachedFeatureDataset` (see ``configs/mlfd/joint_offline_cached.py``).
"""
from .layout import FeatureLayout, normalize_pool, pool_teacher_maps
from .manifest import OutdatedCacheError, StaleCacheError, load_manifest
from .reader import CachedFeatureDataset, FeatureCacheReader
from .teacher_features import CachedTeacherFeatures
from .writer import (DatasetSource, FeatureCacheWriter,
                     InsufficientDiskSpaceError, assign_shards,
                     check_disk_space)

__all__ = [
    'CachedFeatureDataset', 'CachedTeacherFeatures', 'DatasetSource',
    'FeatureCacheReader', 'FeatureCacheWriter', 'FeatureLayout',
    'InsufficientDiskSpaceError', 'OutdatedCacheError', 'StaleCacheError',
    'assign_shards', 'check_disk_space', 'load_manifest', 'normalize_pool',
    'pool_teacher_maps'
]
