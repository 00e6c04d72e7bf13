"""The joint-output cache (stage 3): what an MLFD student needs from its
frozen joint teacher, computed once per sample and read back instead of
running the teacher.

It is the teacher-feature cache's second kind (``manifest['kind'] =
'joint_outputs'``): the same shard files, manifest, completion markers,
resumable and rank-split build (:class:`FeatureCacheWriter`) and reader
(:class:`CachedFeatureDataset`). A sample's row holds the joint teacher's
fused features at the levels the student distils (each (C, H, W) per frame)
and its logits for the student's dataset (stored as (K, 1, 1)), in this
order; ``manifest['outputs']`` names them (``'l1'``, ..., ``'logits'``).

Stale detection: the manifest records the joint checkpoint's SHA-256, a
hash of the joint teacher's model config (its teachers' configs resolved;
checkpoint paths and its own ``feature_cache`` left out, since the joint
checkpoint holds every weight and a cached or online joint teacher is the
same model), the student's dataset, the stored levels, dtype and shapes,
and per split each dataset's identity and pipeline.
"""
import copy
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from ..atomic_files import file_sha256
from .layout import DTYPES, pool_teacher_maps
from .manifest import (FORMAT, JOINT_OUTPUTS, StaleCacheError, _sha256_json,
                       _short, cache_id, check_kind, layout_offsets,
                       load_manifest, manifest_layout)
from .reader import CACHE_ID_KEY, FEATURES_FIELD, carried_to_device
from .writer import DEFAULT_SHARD_SIZE, FeatureCacheWriter

LOGITS = 'logits'


def joint_config_sha256(model_cfg: dict) -> str:
    """Hash of what a joint teacher computes, from its model config alone
    (nothing is built): the teachers' config files are resolved to their
    model configs; checkpoint paths and ``feature_cache`` are left out."""
    from ..config import resolve_model_config
    cfg = copy.deepcopy(dict(model_cfg))
    cfg.pop('feature_cache', None)
    teachers = []
    for i, spec in enumerate(cfg.pop('teachers', None) or []):
        spec = dict(spec)
        spec.pop('checkpoint', None)
        if spec.get('config') is not None:
            spec['config'] = resolve_model_config(
                spec['config'], f"teacher {spec.get('name', i)!r}")[0]
        teachers.append(spec)
    cfg['teachers'] = teachers
    return _sha256_json(cfg)


def joint_identity(model_cfg: dict, checkpoint: Optional[str],
                   dataset: Optional[str]) -> dict:
    """What a joint-output cache depends on besides its data and options."""
    return dict(
        config_sha256=joint_config_sha256(model_cfg),
        checkpoint=osp.abspath(checkpoint) if checkpoint else None,
        checkpoint_sha256=file_sha256(checkpoint)
        if checkpoint and osp.isfile(checkpoint) else None,
        dataset=dataset)


def joint_changes(cached: dict, current: dict) -> List[str]:
    """Sentences naming what differs between the joint teacher a cache was
    built from and the one the config names now."""
    changes = []
    if cached.get('checkpoint_sha256') != current.get('checkpoint_sha256'):
        changes.append(
            'joint teacher checkpoint changed: the cache was built from '
            f'{cached.get("checkpoint")} (sha256 '
            f'{_short(cached.get("checkpoint_sha256"))}), the config names '
            f'{current.get("checkpoint")} (sha256 '
            f'{_short(current.get("checkpoint_sha256"))})')
    if cached.get('config_sha256') != current.get('config_sha256'):
        changes.append(
            'joint teacher config changed (architecture, levels, teachers or '
            f'heads; hash {_short(cached.get("config_sha256"))} in the '
            f'cache, {_short(current.get("config_sha256"))} now)')
    if cached.get('dataset') != current.get('dataset'):
        changes.append(
            f'student dataset: the cache holds the joint head of '
            f'{cached.get("dataset")!r}, the student trains on '
            f'{current.get("dataset")!r}')
    return changes


class JointOutputCacheWriter(FeatureCacheWriter):
    """Write a frozen joint teacher's outputs for one student.

    The outputs are computed by the online distiller itself
    (``distiller._teacher_outputs``, the one place the joint teacher runs),
    from the distiller's own raw-pixel preprocessing, so the cache holds
    exactly what the online student would be taught with on the same view.

    Args:
        distiller (MLFDDistiller): Built online (with its joint teacher).
        root (str): The cache directory.
        identity (dict): :func:`joint_identity` of its joint teacher.
        dtype, shard_size, batch_size, num_workers, device, progress: see
            :class:`FeatureCacheWriter`.
    """

    def __init__(self, distiller, root: str, identity: dict,
                 dtype: str = 'float16',
                 shard_size: int = DEFAULT_SHARD_SIZE, batch_size: int = 64,
                 num_workers: int = 0, device=None, progress: bool = True):
        if dtype not in DTYPES:
            raise ValueError(f'dtype must be one of {DTYPES}, got {dtype!r}')
        if shard_size < 1:
            raise ValueError(f'shard_size must be >= 1, got {shard_size}')
        self.distiller = distiller
        self.identity = dict(identity)
        self.levels = sorted({level for _, level in distiller.pairs}) \
            if distiller.loss_weights['feature'] > 0 else []
        self.with_logits = distiller.dataset_index is not None
        self.names = [f'l{level + 1}' for level in self.levels] + (
            [LOGITS] if self.with_logits else [])
        if not self.names:
            raise ValueError(
                'the student uses nothing of its joint teacher (no distilled '
                'levels, no joint head for its dataset): nothing to cache')
        self.root = root
        self.data_preprocessor = distiller.data_preprocessor
        self.dtype = dtype
        self.pool = None
        self.shard_size = int(shard_size)
        self.batch_size = int(batch_size)
        self.num_workers = int(num_workers)
        self.device = torch.device(device) if device is not None else next(
            distiller.parameters()).device
        self.progress = progress
        teacher = distiller.teacher
        segments = getattr(teacher, 'num_segments', None)
        self.num_segments = int(segments[0] if isinstance(
            segments, (list, tuple)) else segments or 1)

    @torch.no_grad()
    def outputs(self, data: dict) -> List[torch.Tensor]:
        """The stored outputs of a pseudo-collated batch, float: each
        distilled level (B*S, C, H, W), then the logits (B, K, 1, 1)."""
        inputs = self._inputs(data)
        # Samples that carry the teachers' cached features (the joint
        # teacher's feature_cache, see teacher_feature_sources) spare the
        # teachers' forward: only the fusion and the heads run.
        out = self.distiller._teacher_outputs(inputs, data['data_samples'])
        values = [out['features'][level] for level in self.levels]
        if self.with_logits:
            logits = out['logits'][self.distiller.dataset_index]
            values.append(logits.reshape(*logits.shape, 1, 1))
        return values

    @torch.no_grad()
    def features(self, data: dict) -> List[List[torch.Tensor]]:
        out = []
        for name, value in zip(self.names, self.outputs(data)):
            out.append([self.stored(value, f'joint output {name!r}')])
        return out

    def probe_shapes(self, dataset) -> List[List[List[int]]]:
        from mmengine.dataset import pseudo_collate
        values = self.outputs(pseudo_collate([dataset[0]]))
        return [[list(v.shape[1:])] for v in values]

    def _header(self, shapes) -> dict:
        header = dict(
            format=FORMAT, kind=JOINT_OUTPUTS, dtype=self.dtype,
            byteorder='little', pool=None, shard_size=self.shard_size,
            shapes=shapes, joint=self.identity,
            outputs=[dict(name=name, num_segments=1 if name == LOGITS else
                          self.num_segments) for name in self.names])
        layout = manifest_layout(header)
        header.update(bytes_per_sample=layout.bytes_per_sample,
                      offsets=layout_offsets(layout))
        return header

    @staticmethod
    def _header_changes(old: dict, new: dict) -> List[str]:
        if old.get('kind') != JOINT_OUTPUTS:
            return [f'kind: {old.get("kind", "teacher_features")!r} in the '
                    f'cache, {JOINT_OUTPUTS!r} now']
        changes = joint_changes(old['joint'], new['joint'])
        names = [o['name'] for o in old['outputs']]
        if names != [o['name'] for o in new['outputs']]:
            changes.append(f'stored outputs: {names} in the cache, '
                           f'{[o["name"] for o in new["outputs"]]} now')
        for key in ('dtype', 'shard_size'):
            if old.get(key) != new.get(key):
                changes.append(f'{key}: {old.get(key)!r} in the cache, '
                               f'{new.get(key)!r} now')
        if not changes and old['shapes'] != new['shapes']:
            changes.append(f'stored shapes: {old["shapes"]} in the cache, '
                           f'{new["shapes"]} now (input size changed?)')
        return changes


def load_joint_outputs_manifest(root: str) -> dict:
    """The manifest of the joint-output cache at ``root``, or an error that
    says how to build it (none there) or what the cache is instead.

    Args:
        root (str): ``model.joint_output_cache.root`` of a student config.

    Returns:
        dict: The manifest.
    """
    manifest = load_manifest(root)
    if manifest is None:
        raise FileNotFoundError(
            f'joint_output_cache.root {root!r} has no manifest.json: '
            'build the cache with `python tools/cache_features.py '
            '<this student config>`')
    check_kind(root, manifest, JOINT_OUTPUTS,
               'MLFDDistiller (model.joint_output_cache)')
    return manifest


class CachedJointOutputs(nn.Module):
    """Stands in for the frozen joint teacher of an MLFDDistiller with
    ``joint_output_cache=dict(root=...)``: no teacher is built or run.

    At construction the cache's manifest is checked against the joint
    teacher the config names (its checkpoint's SHA-256 and config hash),
    the student's dataset and the outputs the student needs; a
    :class:`StaleCacheError` says what changed. It answers what the
    distiller asks a joint teacher (``dataset_names``, ``level_channels``,
    ``num_classes``), and its forward unpacks the outputs that the data
    samples carry (put there by :class:`CachedFeatureDataset`) in the joint
    teacher's ``mode='tensor'`` form: ``features`` per joint level (None
    where not stored), ``logits`` per dataset (None but the student's).

    Args:
        root (str): The cache directory.
        identity (dict): :func:`joint_identity` of the configured joint
            teacher.
        levels (Sequence[int]): Joint levels (0-based) the student
            distils.
        need_logits (bool): Whether the student needs the joint logits.
        dtype (str): Build option (``tools/cache_features.py``); the reader
            takes whatever the cache holds. Defaults to ``'float16'``.
    """

    def __init__(self, root: str, identity: dict, levels: Sequence[int],
                 need_logits: bool, dtype: str = 'float16'):
        super().__init__()
        manifest = load_joint_outputs_manifest(root)
        changes = joint_changes(manifest['joint'], identity)
        stored = [o['name'] for o in manifest['outputs']]
        missing = [f'l{level + 1}' for level in levels
                   if f'l{level + 1}' not in stored]
        if missing:
            changes.append(f'distilled levels: the student distils '
                           f'{missing}, the cache holds {stored}')
        if need_logits and LOGITS not in stored:
            changes.append('the student needs the joint logits (kd > 0), '
                           f'the cache holds {stored}')
        if changes:
            raise StaleCacheError(root, changes)
        self.root = root
        self.dtype = dtype
        self.manifest = manifest
        self.stored = stored
        self._layout = manifest_layout(manifest)
        self._cache_id = cache_id(manifest)
        joint = manifest['joint']
        self.dataset_names = list(joint['dataset_names'])
        self.level_channels = list(joint['level_channels'])
        self.num_classes = list(joint['num_classes'])

    @property
    def num_levels(self) -> int:
        return len(self.level_channels)

    def carried(self, data_samples: Optional[list]) -> bool:
        """Whether every data sample carries cached outputs (raises when
        only some do)."""
        flats = [s.get(FEATURES_FIELD) if hasattr(s, 'get') else None
                 for s in (data_samples or [])]
        have = [f is not None for f in flats]
        if have and all(have):
            return True
        if any(have):
            raise ValueError(
                f'{have.count(False)} of {len(have)} data samples carry no '
                'cached joint outputs: wrap every dataset of the loader in '
                'CachedFeatureDataset, or none')
        return False

    def forward(self, inputs: torch.Tensor, data_samples: Optional[list],
                mode: str = 'tensor') -> dict:
        if not self.carried(data_samples):
            raise ValueError(
                f'MLFDDistiller with joint_output_cache (root {self.root!r}) '
                'runs no joint teacher, but the data samples carry no cached '
                'joint outputs: wrap the loader\'s dataset in '
                f"CachedFeatureDataset(root={self.root!r}, split=..., "
                "dataset_name=...) (see configs/mlfd/"
                'student_offline_mnist_cached.py)')
        ids = {s.metainfo.get(CACHE_ID_KEY) for s in data_samples}
        if ids != {self._cache_id}:
            raise StaleCacheError(self.root, [
                'the data samples carry outputs of cache(s) '
                f'{sorted(map(str, ids))}, but model.joint_output_cache.root '
                f'holds cache {self._cache_id}'],
                hint='point the loaders\' CachedFeatureDataset and '
                'model.joint_output_cache at the same root')
        flat = carried_to_device(data_samples, inputs.device)
        values = [per[0].float() for per in self._layout.split(flat)]
        features: List[Optional[torch.Tensor]] = [None] * self.num_levels
        logits: List[Optional[torch.Tensor]] = [None] * len(
            self.dataset_names)
        for name, value in zip(self.stored, values):
            if name == LOGITS:
                index = self.dataset_names.index(
                    self.manifest['joint']['dataset'])
                logits[index] = value.flatten(1)
            else:
                features[int(name[1:]) - 1] = value
        return dict(features=features, logits=logits)

    def extra_repr(self) -> str:
        return (f'root={self.root!r}, outputs={self.stored}, '
                f'dtype={self.manifest["dtype"]!r}')


def _probe_mismatch(distiller, cache, dataset) -> Optional[str]:
    """Why the cached teacher features of ``dataset``'s first sample are
    not what the teachers compute from the distiller's own inputs (e.g. the
    joint stage preprocessed its images otherwise), or None when they
    agree within the cache's precision."""
    from mmengine.dataset import pseudo_collate
    data = pseudo_collate([dataset[0]])
    device = next(distiller.parameters()).device
    inputs = distiller.data_preprocessor(data, False)['inputs'].to(device)
    teachers = distiller.teacher.teachers
    cached = cache(teachers, inputs, data['data_samples'])
    online = pool_teacher_maps([t(inputs) for t in teachers], cache.pool)
    tol = 1e-2 if cache._layout.dtype == 'float16' else 1e-4
    for t, (got, want) in enumerate(zip(cached, online)):
        for level, (g, w) in enumerate(zip(got, want)):
            scale = float(w.abs().max()) or 1.
            diff = float((g - w).abs().max()) / scale
            if g.shape != w.shape or diff > tol:
                return (f'teacher {teachers[t].name!r}, level l{level + 1}: '
                        'the cached features of the first sample differ '
                        f'from the teacher\'s (max difference {diff:.3g} of '
                        'the largest value): another preprocessing?')
    return None


def teacher_feature_sources(distiller, sources: dict
                            ) -> Tuple[dict, List[str]]:
    """``sources`` (split -> [DatasetSource]) with each dataset that the
    joint teacher's own teacher-feature cache (``feature_cache`` of its
    config: the cached pipeline's joint stage) holds for the same samples
    and pipeline wrapped in a :class:`CachedFeatureDataset` of that cache,
    so that building a student's joint-output cache runs only the joint
    teacher's fusion and heads on them. A first-sample probe checks that
    the cached features are what the teachers compute from the distiller's
    inputs. The other datasets keep running the teachers.

    Args:
        distiller (MLFDDistiller): Built online, in eval mode.
        sources (dict): split -> [DatasetSource].

    Returns:
        tuple: The sources, and one line per (split, dataset) saying where
        its teacher features come from (and why not from the cache).
    """
    from .reader import CachedFeatureDataset
    from .writer import DatasetSource
    teacher = distiller.teacher
    cache = getattr(teacher, 'feature_cache', None)
    out, lines = {}, []
    for split, split_sources in sources.items():
        out[split] = []
        for src in split_sources:
            why = 'the joint teacher has no feature_cache' if cache is None \
                else cache.missing(teacher.teachers, split, src.name,
                                   src.dataset, src.pipeline)
            wrapped = None
            if why is None:
                wrapped = CachedFeatureDataset(src.dataset, cache.root, split,
                                               dataset_name=src.name)
                with torch.no_grad():
                    why = _probe_mismatch(distiller, cache, wrapped)
            if why is None:
                src = DatasetSource(src.name, wrapped, src.pipeline)
                lines.append(f'{split}/{src.name}: teacher features from '
                             f'the cache {cache.root}')
            else:
                lines.append(f'{split}/{src.name}: the teachers run ({why})')
            out[split].append(src)
    return out, lines
