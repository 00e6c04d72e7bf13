"""The joint teacher's side of the feature cache: teacher features from the
data samples when they carry them, else from the teachers themselves."""
from typing import List, Optional, Sequence

import torch

from .layout import DTYPES, normalize_pool, pool_teacher_maps
from .manifest import (TEACHER_FEATURES, StaleCacheError, cache_id,
                       check_kind, dataset_changes, dataset_identity,
                       incomplete_shards, load_manifest, pipeline_sha256,
                       manifest_layout, teacher_identity, teacher_changes)
from .reader import CACHE_ID_KEY, FEATURES_FIELD, carried_to_device


class CachedTeacherFeatures:
    """Teacher features for a JointTeacher with ``feature_cache=dict(...)``.

    When the batch's data samples carry cached features (put there by
    :class:`CachedFeatureDataset`), no teacher runs: the features are
    unpacked from the samples. The first such batch checks the cache's
    manifest against the teachers as they are now (architecture and
    normalisation hash, weights hash; a :class:`StaleCacheError` names the
    teacher and what changed) and against this config's pooling. It is
    checked on first use, not at construction, because a joint teacher
    inside a distiller gets its weights after it is built.

    Samples without cached features (e.g. an online evaluation) are fed
    through the teachers, and the same pooling is applied, so a model
    trained from a pooled cache sees pooled maps online too.

    Args:
        root (str): The cache directory.
        pool (None | str | dict): Spatial pooling applied at caching time
            (see :func:`normalize_pool`). Defaults to None.
        dtype (str): Storage dtype used when the cache is built
            (``'float16'`` or ``'float32'``). Reading accepts either.
            Defaults to ``'float16'``.
        **build_options: Other keys used by ``tools/cache_features.py``
            only (``shard_size``, ``pipeline``).
    """

    BUILD_OPTIONS = ('shard_size', 'pipeline')

    def __init__(self, root: str, pool=None, dtype: str = 'float16',
                 **build_options):
        if not root:
            raise ValueError('feature_cache needs root=, the cache directory')
        if dtype not in DTYPES:
            raise ValueError(f'feature_cache.dtype must be one of {DTYPES}, '
                             f'got {dtype!r}')
        unknown = sorted(set(build_options) - set(self.BUILD_OPTIONS))
        if unknown:
            raise KeyError(
                f'feature_cache: unknown keys {unknown}; known: root, pool, '
                f'dtype, {", ".join(self.BUILD_OPTIONS)}')
        self.root = root
        self.pool = normalize_pool(pool)
        self.dtype = dtype
        self.build_options = dict(build_options)
        self._layout = None
        self._cache_id: Optional[str] = None

    def __call__(self, teachers: Sequence, inputs: torch.Tensor,
                 data_samples: Optional[list]) -> List[List[torch.Tensor]]:
        """``feats[t][l]``, (B*S, C, H, W) float maps on ``inputs.device``."""
        flats = [
            sample.get(FEATURES_FIELD) if hasattr(sample, 'get') else None
            for sample in (data_samples or [])
        ]
        carried = [f is not None for f in flats]
        if not any(carried):
            return pool_teacher_maps([t(inputs) for t in teachers],
                                     self.pool)
        if not all(carried):
            raise ValueError(
                f'{carried.count(False)} of {len(carried)} data samples carry '
                'no cached teacher features: wrap every dataset of the '
                'loader in CachedFeatureDataset, or none')
        self._check(teachers, data_samples)
        batch = carried_to_device(data_samples, inputs.device)
        return [[f.float() for f in per_teacher]
                for per_teacher in self._layout.split(batch)]

    def missing(self, teachers: Sequence, split: str, name: str, dataset,
                pipeline: list) -> Optional[str]:
        """Why this cache cannot give the teachers' features of
        ``dataset`` (split ``split``, named ``name``, read with
        ``pipeline``), or None when it can: no manifest, other teachers or
        pooling, a dataset or split it does not hold, another sample list or
        pipeline, or shards not marked complete. A student's joint-output
        cache is then built from these features instead of running the
        teachers (see :func:`mlfd_mm.apis.feature_cache.
        build_joint_output_cache`)."""
        try:
            if self._cache_id is None:
                self._validate(teachers)
        except (FileNotFoundError, StaleCacheError, ValueError) as err:
            return str(err).splitlines()[0]
        manifest = load_manifest(self.root)
        cached = manifest['splits'].get(split, {}).get(name)
        if cached is None:
            return (f'it holds no dataset {name!r} in split {split!r}')
        if cached.get('pipeline_sha256') != pipeline_sha256(pipeline):
            return (f'dataset {name!r} (split {split}) was cached with '
                    f'another pipeline: {cached.get("pipeline")}')
        changes = dataset_changes(split, name, cached,
                                  dataset_identity(dataset))
        if changes:
            return changes[0]
        if incomplete_shards(manifest, split, name):
            return f'dataset {name!r} (split {split}) is incomplete'
        return None

    def _check(self, teachers: Sequence, data_samples: list):
        if self._cache_id is None:
            self._validate(teachers)
        ids = {s.metainfo.get(CACHE_ID_KEY) for s in data_samples}
        if ids != {self._cache_id}:
            raise StaleCacheError(self.root, [
                'the data samples carry features of cache(s) '
                f'{sorted(map(str, ids))}, but the model\'s '
                'feature_cache.root holds cache '
                f'{self._cache_id}: the loader\'s CachedFeatureDataset and '
                'model.feature_cache must name the same root'
            ], hint='point both at the same cache directory')

    def _validate(self, teachers: Sequence):
        manifest = load_manifest(self.root)
        if manifest is None:
            raise FileNotFoundError(
                f'feature_cache.root {self.root!r} has no manifest.json: '
                'build the cache with `python tools/cache_features.py '
                'CONFIG`')
        check_kind(self.root, manifest, TEACHER_FEATURES,
                   'JointTeacher (model.feature_cache)')
        changes = teacher_changes(manifest['teachers'],
                                  [teacher_identity(t) for t in teachers])
        if manifest.get('pool') != self.pool:
            changes.append(
                'pooling: the cache was built with '
                f'pool={manifest.get("pool")}, the config says '
                f'pool={self.pool}')
        if changes:
            raise StaleCacheError(self.root, changes)
        self._layout = manifest_layout(manifest)
        self._cache_id = cache_id(manifest)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(root={self.root!r}, '
                f'pool={self.pool!r}, dtype={self.dtype!r})')
