"""The cache manifest: what a feature cache was built from, and which of its
shards are complete.

``<root>/manifest.json`` records the storage options (dtype, pooling, shard
size), every teacher's identity (a hash of its architecture and
normalisation, a hash of its weights, its checkpoint path and the file's
SHA-256, its levels and the stored shapes), every split's datasets (length,
hash of the sample list, the deterministic pipeline) and one completion
marker per shard. It is only ever replaced whole (temp file, fsync, rename)
under a file lock, so concurrent ranks and killed runs never leave a
half-written manifest behind.
"""
import contextlib
import fcntl
import hashlib
import json
import os
import os.path as osp
import time
from typing import List, Optional, Sequence

import numpy as np
import torch

from ..atomic_files import atomic_write_json as _atomic_write_json
from ..atomic_files import file_sha256

MANIFEST = 'manifest.json'
# /2: one file per shard, sample-major (each row one sample's every teacher
# level, at the offsets of ``manifest['offsets']``), read with pread.
# /1 (one .npy per shard, teacher and level, memory-mapped) is refused.
FORMAT = 'mlfd_mm-feature-cache/2'
OLD_FORMATS = ('mlfd_mm-feature-cache/1', )


class StaleCacheError(RuntimeError):
    """The cache does not match the current teachers, data or options.

    Args:
        root (str): The cache directory.
        changes (Sequence[str]): One sentence per difference.
        hint (str): How to fix it.
    """

    def __init__(self, root: str, changes: Sequence[str], hint: str = ''):
        self.root = root
        self.changes = list(changes)
        hint = hint or ('rebuild it with `python tools/cache_features.py '
                        'CONFIG --force`')
        lines = '\n'.join(f'  - {c}' for c in self.changes)
        super().__init__(f'feature cache {root!r} is stale; what changed:\n'
                         f'{lines}\n{hint}')


# ----------------------------------------------------------------------
# fingerprints
# ----------------------------------------------------------------------
def _sha256_json(obj) -> str:
    text = json.dumps(obj, sort_keys=True, default=_json_default)
    return hashlib.sha256(text.encode()).hexdigest()


def _json_default(obj):
    """JSON for values found in data infos and configs: arrays (e.g. the
    in-memory images of CIFAR datasets) by the hash of their bytes."""
    if isinstance(obj, np.ndarray):
        return dict(array_sha256=hashlib.sha256(
            np.ascontiguousarray(obj).tobytes()).hexdigest(),
                    shape=list(obj.shape), dtype=str(obj.dtype))
    if isinstance(obj, torch.Tensor):
        return _json_default(obj.detach().cpu().numpy())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (set, tuple)):
        return list(obj)
    return str(obj)


def weights_sha256(module: torch.nn.Module) -> str:
    """Hash of a module's state dict (parameters and buffers, so BatchNorm
    statistics too), in key order."""
    digest = hashlib.sha256()
    for key, value in sorted(module.state_dict().items()):
        tensor = value.detach().cpu().contiguous()
        digest.update(f'{key}:{tuple(tensor.shape)}:{tensor.dtype};'.encode())
        digest.update(tensor.numpy().tobytes() if tensor.dtype !=
                      torch.bfloat16 else tensor.float().numpy().tobytes())
    return digest.hexdigest()


def teacher_identity(teacher) -> dict:
    """What a :class:`FrozenTeacher`'s features depend on.

    ``config_sha256`` hashes the teacher as built (backbone architecture as
    printed by ``repr``, levels, normalisation, channel order, segments), so
    moving or reformatting a config file does not invalidate a cache, while
    any change to what the teacher computes does. ``weights_sha256`` hashes
    its weights; the checkpoint path and the file's SHA-256 are recorded to
    say which file changed.
    """
    config = dict(
        name=teacher.name,
        levels=list(teacher.levels),
        out_channels=list(teacher.out_channels),
        num_segments=int(teacher.num_segments),
        flip_channels=bool(getattr(teacher, 'flip_channels', False)),
        mean=None if getattr(teacher, 'mean', None) is None else
        teacher.mean.flatten().tolist(),
        std=None if getattr(teacher, 'std', None) is None else
        teacher.std.flatten().tolist(),
        backbone=repr(teacher.backbone),
    )
    checkpoint = getattr(teacher, 'checkpoint', None)
    return dict(
        name=teacher.name,
        config_sha256=_sha256_json(config),
        weights_sha256=weights_sha256(teacher),
        checkpoint=checkpoint,
        checkpoint_sha256=file_sha256(checkpoint)
        if checkpoint and osp.isfile(checkpoint) else None,
        levels=list(teacher.levels),
        num_segments=int(teacher.num_segments),
    )


def _describe_sample(info: dict) -> dict:
    return {k: v for k, v in info.items() if k != 'sample_idx'}


def dataset_identity(dataset) -> dict:
    """Length and hash of a dataset's sample list (``get_data_info`` of every
    index: paths, labels, ... but not the pipeline), with the first and last
    sample spelled out for messages."""
    length = len(dataset)
    digest = hashlib.sha256()
    first = last = None
    for i in range(length):
        info = _describe_sample(dataset.get_data_info(i))
        text = json.dumps(info, sort_keys=True, default=_json_default)
        digest.update(text.encode() + b'\n')
        if i == 0:
            first = json.loads(text)
        if i == length - 1:
            last = json.loads(text)
    return dict(length=length, samples_sha256=digest.hexdigest(),
                first_sample=first, last_sample=last)


def pipeline_sha256(pipeline) -> str:
    return _sha256_json(pipeline)


# ----------------------------------------------------------------------
# comparisons, each returning sentences that say what changed
# ----------------------------------------------------------------------
def _short(sha: Optional[str]) -> str:
    return sha[:12] if sha else 'n/a'


def _describe_checkpoint(path: Optional[str], sha: Optional[str]) -> str:
    if not path:
        return ('no checkpoint file (random weights, or weights loaded with '
                'a joint-teacher checkpoint)')
    return f'{path} sha256 {_short(sha)}'


def teacher_changes(cached: Sequence[dict],
                    current: Sequence[dict]) -> List[str]:
    """Differences between the teachers a cache was built with and now."""
    cached_names = [t['name'] for t in cached]
    current_names = [t['name'] for t in current]
    if cached_names != current_names:
        return [f'teachers: the cache holds {cached_names}, the model has '
                f'{current_names}']
    changes = []
    for old, new in zip(cached, current):
        name = new['name']
        if old['config_sha256'] != new['config_sha256']:
            changes.append(
                f'teacher {name!r}: config changed (architecture, levels or '
                f'normalisation; hash {_short(old["config_sha256"])} in the '
                f'cache, {_short(new["config_sha256"])} now)')
        if old['weights_sha256'] != new['weights_sha256']:
            now_file = new.get('checkpoint')
            now_sha = new.get('checkpoint_sha256')
            if now_file and now_sha is None and osp.isfile(now_file):
                now_sha = file_sha256(now_file)
            was = _describe_checkpoint(old.get('checkpoint'),
                                       old.get('checkpoint_sha256'))
            changes.append(
                f'teacher {name!r}: checkpoint changed (its weights differ '
                f'from those the cache was built with; cache: {was}, now: '
                f'{_describe_checkpoint(now_file, now_sha)})')
    return changes


def dataset_changes(split: str, name: str, cached: dict,
                    current: dict) -> List[str]:
    where = f'dataset {name!r} (split {split})'
    if cached['length'] != current['length']:
        return [f'{where}: data changed: {cached["length"]} samples in the '
                f'cache, {current["length"]} now']
    if cached['samples_sha256'] != current['samples_sha256']:
        detail = ''
        for key in ('first_sample', 'last_sample'):
            if cached.get(key) != current.get(key):
                detail = (f'; {key.replace("_", " ")} was '
                          f'{cached.get(key)}, now {current.get(key)}')
                break
        return [f'{where}: data changed: the sample list differs (sha256 '
                f'{_short(cached["samples_sha256"])} in the cache, '
                f'{_short(current["samples_sha256"])} now){detail}']
    return []


# ----------------------------------------------------------------------
# the manifest file
# ----------------------------------------------------------------------
def atomic_write_json(path: str, obj: dict):
    """Write the manifest JSON so that readers see the old or the new file,
    never a part of one."""
    _atomic_write_json(path, obj, indent=1, sort_keys=True,
                       default=_json_default)


@contextlib.contextmanager
def manifest_lock(root: str):
    """An exclusive lock on the cache's manifest (ranks share the file)."""
    os.makedirs(root, exist_ok=True)
    with open(osp.join(root, '.manifest.lock'), 'a') as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def manifest_path(root: str) -> str:
    return osp.join(root, MANIFEST)


class OutdatedCacheError(StaleCacheError):
    """The cache was written in an older file layout: never read, only
    rebuilt."""


def load_manifest(root: str, outdated_ok: bool = False) -> Optional[dict]:
    """The manifest of ``root``, or None when there is none.

    A manifest of an older layout raises :class:`OutdatedCacheError`
    (saying to rebuild), or with ``outdated_ok`` is returned as it is (for
    a forced rebuild to delete its files).
    """
    path = manifest_path(root)
    if not osp.isfile(path):
        return None
    with open(path) as f:
        manifest = json.load(f)
    found = manifest.get('format')
    if found != FORMAT:
        if outdated_ok and found in OLD_FORMATS:
            return manifest
        what = ('an older layout (one memory-mapped .npy per shard, teacher '
                'and level)' if found in OLD_FORMATS else
                'an unknown layout')
        raise OutdatedCacheError(
            root, [f'{path}: format {found!r}, {what}; this version reads '
                   f'only {FORMAT!r}'],
            hint='its files are not read; rebuild it with `python '
            'tools/cache_features.py CONFIG --force` (or choose another '
            'root)')
    return manifest


# What a cache holds (``manifest['kind']``; caches without the key are
# teacher-feature caches): the frozen teachers' maps for a JointTeacher
# (stage 2), or a frozen joint teacher's outputs for one student (stage 3).
TEACHER_FEATURES = 'teacher_features'
JOINT_OUTPUTS = 'joint_outputs'
KINDS = (TEACHER_FEATURES, JOINT_OUTPUTS)


def cache_kind(manifest: dict) -> str:
    return manifest.get('kind', TEACHER_FEATURES)


def check_kind(root: str, manifest: dict, expected: str, user: str):
    """Refuse a cache of the other kind, saying what it holds and who
    reads which."""
    found = cache_kind(manifest)
    if found == expected:
        return
    what = {TEACHER_FEATURES: 'frozen teachers\' features (a JointTeacher '
            'reads them: model.feature_cache)',
            JOINT_OUTPUTS: 'a joint teacher\'s outputs for one student (an '
            'MLFDDistiller reads them: model.joint_output_cache)'}
    raise StaleCacheError(root, [
        f'the cache holds {what.get(found, repr(found))}, but {user} needs '
        f'{what[expected]}'], hint='point the config at a cache of the right '
        'kind (each is built by `python tools/cache_features.py CONFIG` from '
        'the config that reads it)')


def cache_id(manifest: dict) -> str:
    """Short id of what every sample's features depend on (options and
    teachers, or the joint teacher); samples carry it so the model can tell
    they come from the cache it validated."""
    if cache_kind(manifest) == JOINT_OUTPUTS:
        joint = manifest['joint']
        return _sha256_json(dict(
            kind=JOINT_OUTPUTS, dtype=manifest['dtype'],
            shapes=manifest['shapes'], outputs=manifest['outputs'],
            joint=(joint['config_sha256'], joint['checkpoint_sha256'],
                   joint['dataset'])))[:16]
    return _sha256_json(dict(
        dtype=manifest['dtype'], pool=manifest.get('pool'),
        shapes=manifest['shapes'],
        teachers=[(t['name'], t['config_sha256'], t['weights_sha256'])
                  for t in manifest['teachers']]))[:16]


def shard_key(split: str, name: str, index: int) -> str:
    return f'{split}/{name}/{index:05d}'


def mark_shard_complete(root: str, key: str, start: int, stop: int,
                        rank: int):
    """Record a shard as complete: read-modify-write of the manifest under
    the lock, replaced atomically."""
    with manifest_lock(root):
        manifest = load_manifest(root)
        if manifest is None:
            raise RuntimeError(f'feature cache {root!r}: manifest vanished '
                               f'while shard {key} was written')
        manifest['shards'][key] = dict(
            complete=True, start=int(start), stop=int(stop), rank=int(rank),
            finished=time.strftime('%Y-%m-%d %H:%M:%S'))
        atomic_write_json(manifest_path(root), manifest)


def incomplete_shards(manifest: dict, split: str,
                      name: str) -> List[int]:
    entry = manifest['splits'][split][name]
    return [
        j for j in range(entry['num_shards'])
        if not manifest['shards'].get(shard_key(split, name, j),
                                      {}).get('complete')
    ]


def manifest_layout(manifest: dict):
    """The :class:`FeatureLayout` of a manifest: its teachers' levels, or
    for a joint-output cache its outputs (each one entry of one level)."""
    from .layout import FeatureLayout
    entries = manifest['outputs'] if cache_kind(manifest) == JOINT_OUTPUTS \
        else manifest['teachers']
    return FeatureLayout([t['name'] for t in entries],
                         manifest['shapes'],
                         [t['num_segments'] for t in entries],
                         manifest['dtype'])


def _path_part(name: str) -> str:
    """A teacher or dataset name as one safe path component."""
    safe = ''.join(c if c.isalnum() or c in '-_.' else '_' for c in name)
    return safe.strip('.') or '_'


def shard_file(root: str, split: str, dataset: str, index: int) -> str:
    """``<root>/<split>/<dataset>/<index>.bin``: the shard's samples, each
    one row of ``bytes_per_sample`` holding every teacher level (raw
    values in the manifest's dtype, native byte order, no header)."""
    return osp.join(root, split, _path_part(dataset), f'{index:05d}.bin')


def dataset_folder(root: str, split: str, dataset: str) -> str:
    return osp.join(root, split, _path_part(dataset))


def layout_offsets(layout) -> list:
    """Per (teacher, level): where its values lie in a sample's row, as
    recorded in the manifest (``offset``/``numel`` in values)."""
    return [dict(teacher=layout.teachers[t], level=f'l{level + 1}',
                 shape=list(shape), offset=int(offset),
                 numel=int(np.prod(shape)))
            for t, level, shape, offset in layout.entries]
