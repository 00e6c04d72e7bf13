"""Building a feature cache: run every frozen teacher once over each dataset
split and store its maps in shard files.

A shard is ``shard_size`` consecutive samples of one dataset, in ONE file:
one row per sample holding every teacher level (offsets in the manifest),
so a cache has one file per shard whatever the number of teachers and
levels. The file is written under a temporary name, fsync'ed, renamed, and
only then is the shard marked complete in the manifest (itself replaced
atomically). A killed build leaves at most unmarked files, which the reader
never opens and the next build overwrites: it resumes after the last
complete shard.
"""
import os
import os.path as osp
import shutil
import sys
import time
from typing import Dict, List, NamedTuple, Sequence, Tuple

import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from torch.utils.data import DataLoader, Subset

from ..atomic_files import fsync_dir
from .layout import DTYPES, FeatureLayout, normalize_pool, pool_teacher_maps
from .manifest import (FORMAT, StaleCacheError, atomic_write_json,
                       dataset_changes, dataset_folder, dataset_identity,
                       incomplete_shards, layout_offsets, load_manifest,
                       manifest_layout, manifest_lock, manifest_path,
                       mark_shard_complete, pipeline_sha256, shard_file,
                       shard_key, teacher_changes, teacher_identity)

DEFAULT_SHARD_SIZE = 1024


class DatasetSource(NamedTuple):
    """One dataset of a split, as the cache sees it.

    Attributes:
        name (str): Its name (the joint teacher's dataset name).
        dataset: The dataset, built with the deterministic pipeline.
        pipeline (list): That pipeline's config (recorded in the manifest).
    """
    name: str
    dataset: object
    pipeline: list


class InsufficientDiskSpaceError(RuntimeError):
    """The cache would not fit on its disk."""


def format_bytes(num: float) -> str:
    for unit in ('B', 'KB', 'MB', 'GB', 'TB'):
        if abs(num) < 1000 or unit == 'TB':
            return f'{num:.1f} {unit}' if unit != 'B' else f'{int(num)} B'
        num /= 1000.0
    return f'{num:.1f} TB'


def free_bytes(root: str) -> Tuple[int, str]:
    """Free bytes on the disk that holds ``root`` (or would: its nearest
    existing parent), and that path."""
    path = osp.abspath(root)
    while not osp.exists(path):
        parent = osp.dirname(path)
        if parent == path:
            break
        path = parent
    return shutil.disk_usage(path).free, path


def check_disk_space(root: str, needed: int, what: str = ''):
    """Raise :class:`InsufficientDiskSpaceError`, with the figures, when
    ``needed`` bytes do not fit on the disk of ``root``."""
    free, where = free_bytes(root)
    if needed > free:
        raise InsufficientDiskSpaceError(
            f'not enough disk space for the feature cache at {root!r}: it '
            f'needs {format_bytes(needed)}{what}, but only '
            f'{format_bytes(free)} is free on the disk of {where!r} (short '
            f'by {format_bytes(needed - free)}). Free some space, choose '
            'another root, cache fewer splits, use dtype float16 or pool '
            'the large levels (feature_cache.pool).')


def assign_shards(tasks: Sequence, rank: int, world_size: int) -> list:
    """Round-robin: rank r takes tasks r, r + world_size, ... (disjoint, and
    together every task)."""
    if not 0 <= rank < world_size:
        raise ValueError(f'rank {rank} outside world_size {world_size}')
    return list(tasks[rank::world_size])


def feature_sizes(teachers: Sequence,
                  inputs: torch.Tensor) -> List[List[Tuple[int, int, int]]]:
    """Per-frame (C, H, W) of every teacher's levels for ``inputs``."""
    with torch.no_grad():
        return [[tuple(f.shape[1:]) for f in t(inputs)] for t in teachers]


def stored_shapes(sizes: Sequence[Sequence[Tuple[int, int, int]]], pool,
                  names: Sequence[str]) -> List[List[List[int]]]:
    """(C, H, W) as stored, after pooling."""
    from .layout import pooled_sizes
    hw = pooled_sizes([[s[1:] for s in row] for row in sizes], pool, names)
    return [[[c[0], h[0], h[1]] for c, h in zip(row, hw_row)]
            for row, hw_row in zip(sizes, hw)]


class _Progress:
    """A progress line with samples/s and the time left."""

    def __init__(self, total: int, prefix: str = '', stream=None,
                 interval: float = 2.0):
        self.total = total
        self.done = 0
        self.prefix = prefix
        self.stream = stream or sys.stderr
        self.interval = interval
        self.start = self.last = time.time()
        self.tty = hasattr(self.stream, 'isatty') and self.stream.isatty()

    def update(self, count: int, label: str = ''):
        self.done += count
        now = time.time()
        if now - self.last < self.interval and self.done < self.total:
            return
        self.last = now
        rate = self.done / max(now - self.start, 1e-9)
        left = (self.total - self.done) / rate if rate > 0 else 0
        line = (f'{self.prefix}{label} {self.done}/{self.total} samples, '
                f'{rate:.1f} samples/s, '
                f'{time.strftime("%H:%M:%S", time.gmtime(left))} left')
        end = '' if self.tty and self.done < self.total else '\n'
        self.stream.write(('\r' if self.tty else '') + line + end)
        self.stream.flush()


class FeatureCacheWriter:
    """Write the features of frozen teachers to a cache.

    Args:
        teachers (Sequence[FrozenTeacher]): The joint teacher's teachers, in
            order.
        root (str): The cache directory.
        data_preprocessor (nn.Module): Turns a pseudo-collated batch into
            ``inputs`` (the joint teacher's own preprocessor, in eval mode).
        dtype (str): ``'float16'`` (default) or ``'float32'``.
        pool (None | str | dict): Spatial pooling per level, see
            :func:`normalize_pool`.
        shard_size (int): Samples per shard. Defaults to 1024.
        batch_size (int): Samples per teacher forward. Defaults to 64.
        num_workers (int): Data-loader workers. Defaults to 0.
        device (str | torch.device): Where the teachers run. Defaults to
            the teachers' device.
        progress (bool): Print a progress line. Defaults to True.
    """

    def __init__(self,
                 teachers: Sequence,
                 root: str,
                 data_preprocessor,
                 dtype: str = 'float16',
                 pool=None,
                 shard_size: int = DEFAULT_SHARD_SIZE,
                 batch_size: int = 64,
                 num_workers: int = 0,
                 device=None,
                 progress: bool = True):
        if dtype not in DTYPES:
            raise ValueError(f'dtype must be one of {DTYPES}, got {dtype!r}')
        if shard_size < 1:
            raise ValueError(f'shard_size must be >= 1, got {shard_size}')
        self.teachers = list(teachers)
        self.names = [t.name for t in self.teachers]
        self.root = root
        self.data_preprocessor = data_preprocessor
        self.dtype = dtype
        self.pool = normalize_pool(pool, len(self.teachers[0].levels))
        self.shard_size = int(shard_size)
        self.batch_size = int(batch_size)
        self.num_workers = int(num_workers)
        self.device = torch.device(device) if device is not None else next(
            self.teachers[0].parameters()).device
        self.progress = progress

    # -- features --
    def _inputs(self, data: dict) -> torch.Tensor:
        return self.data_preprocessor(data, False)['inputs'].to(self.device)

    def stored(self, value: torch.Tensor, what: str) -> torch.Tensor:
        """``value`` in the cache's dtype; an error naming ``what`` if it
        does not fit (non-finite values, e.g. fp16 overflow)."""
        stored = value.to(getattr(torch, self.dtype))
        if not torch.isfinite(stored).all():
            raise FloatingPointError(
                f'{what}: non-finite values in {self.dtype} (largest |value| '
                f'{value.abs().max().item():.4g}); cache with dtype float32')
        return stored

    @torch.no_grad()
    def features(self, data: dict) -> List[List[torch.Tensor]]:
        """The stored maps of a pseudo-collated batch: ``feats[t][l]``,
        (B*S, C, H, W), pooled, in the cache dtype."""
        inputs = self._inputs(data)
        feats = pool_teacher_maps([t(inputs) for t in self.teachers],
                                  self.pool)
        out = []
        for name, per_teacher in zip(self.names, feats):
            row = []
            for level, f in enumerate(per_teacher):
                row.append(self.stored(
                    f, f'teacher {name!r}, level l{level + 1}'))
            out.append(row)
        return out

    def probe_shapes(self, dataset) -> List[List[List[int]]]:
        """Stored (C, H, W) of every (teacher, level) on the first sample."""
        data = pseudo_collate([dataset[0]])
        inputs = self._inputs(data)
        return stored_shapes(feature_sizes(self.teachers, inputs), self.pool,
                             self.names)

    # -- manifest --
    def _header(self, shapes) -> dict:
        header = dict(
            format=FORMAT,
            dtype=self.dtype,
            byteorder='little',
            pool=self.pool,
            shard_size=self.shard_size,
            shapes=shapes,
            teachers=[teacher_identity(t) for t in self.teachers],
        )
        layout = manifest_layout(header)
        header.update(bytes_per_sample=layout.bytes_per_sample,
                      offsets=layout_offsets(layout))
        return header

    @staticmethod
    def _header_changes(old: dict, new: dict) -> List[str]:
        changes = teacher_changes(old['teachers'], new['teachers'])
        for key in ('dtype', 'pool', 'shard_size'):
            if old.get(key) != new.get(key):
                changes.append(f'{key}: {old.get(key)!r} in the cache, '
                               f'{new.get(key)!r} now')
        if not changes and old['shapes'] != new['shapes']:
            changes.append(f'stored shapes: {old["shapes"]} in the cache, '
                           f'{new["shapes"]} now (input size changed?)')
        return changes

    def _drop_split(self, manifest: dict, split: str) -> List[str]:
        """Forget a split in ``manifest``; return its folders, to delete
        once the manifest without them is on disk (so that a kill in
        between never leaves complete markers for deleted files)."""
        folders = [
            dataset_folder(self.root, split, name)
            for name in manifest['splits'].pop(split, {})
        ]
        manifest['shards'] = {
            k: v for k, v in manifest['shards'].items()
            if not k.startswith(f'{split}/')
        }
        return folders

    def prepare(self, sources: Dict[str, Sequence[DatasetSource]],
                force: bool = False) -> dict:
        """Create or update the manifest for ``sources`` (split -> datasets).

        A cache built with other teachers, options or data raises
        :class:`StaleCacheError` saying what changed, unless ``force``:
        then the stale parts are deleted and rebuilt. ``force`` also
        rebuilds the requested splits when nothing changed.

        Returns:
            dict: The manifest.
        """
        first = next(s for srcs in sources.values() for s in srcs)
        header = self._header(self.probe_shapes(first.dataset))
        with manifest_lock(self.root):
            # An older layout is refused (OutdatedCacheError) unless forced.
            manifest = load_manifest(self.root, outdated_ok=force)
            changes = []
            if manifest is not None and manifest['format'] != FORMAT:
                changes = [f'layout {manifest["format"]!r} -> {FORMAT!r}']
            elif manifest is not None:
                changes = self._header_changes(manifest, header)
                if changes and not force:
                    raise StaleCacheError(
                        self.root, changes,
                        hint='rebuild it with --force (or choose another '
                        'root)')
            stale_folders = []
            if changes:
                for split in list(manifest['splits']):
                    stale_folders += self._drop_split(manifest, split)
                manifest = None
            if manifest is None:
                manifest = dict(header, splits={}, shards={})
            changes = []
            for split, split_sources in sources.items():
                if force:
                    stale_folders += self._drop_split(manifest, split)
                for src in split_sources:
                    entry = dataset_identity(src.dataset)
                    entry.update(
                        pipeline=src.pipeline,
                        pipeline_sha256=pipeline_sha256(src.pipeline),
                        num_shards=-(-entry['length'] // self.shard_size))
                    cached = manifest['splits'].get(split, {}).get(src.name)
                    if cached is not None:
                        found = dataset_changes(split, src.name, cached,
                                                entry)
                        if cached['pipeline_sha256'] != \
                                entry['pipeline_sha256']:
                            found.append(
                                f'dataset {src.name!r} (split {split}): '
                                f'pipeline changed: {cached["pipeline"]} in '
                                f'the cache, {entry["pipeline"]} now')
                        changes += found
                        continue
                    manifest['splits'].setdefault(split, {})[src.name] = entry
            if changes:
                raise StaleCacheError(
                    self.root, changes,
                    hint='rebuild it with --force (or choose another root)')
            atomic_write_json(manifest_path(self.root), manifest)
            for folder in stale_folders:
                shutil.rmtree(folder, ignore_errors=True)
        return manifest

    # -- planning --
    @staticmethod
    def shard_tasks(manifest: dict, splits: Sequence[str]
                    ) -> List[Tuple[str, str, int, int, int]]:
        """Every shard of ``splits`` in a fixed order, as (split, dataset,
        index, start, stop)."""
        tasks = []
        size = int(manifest['shard_size'])
        for split in splits:
            for name, entry in manifest['splits'][split].items():
                for j in range(entry['num_shards']):
                    tasks.append((split, name, j, j * size,
                                  min((j + 1) * size, entry['length'])))
        return tasks

    @staticmethod
    def bytes_needed(manifest: dict, tasks: Sequence) -> int:
        """Bytes of the shards of ``tasks`` not yet complete."""
        per_sample = manifest_layout(manifest).bytes_per_sample
        return sum((stop - start) * per_sample
                   for split, name, j, start, stop in tasks
                   if not manifest['shards'].get(
                       shard_key(split, name, j), {}).get('complete'))

    # -- writing --
    def write(self, sources: Dict[str, Sequence[DatasetSource]],
              rank: int = 0, world_size: int = 1,
              check_space: bool = True) -> int:
        """Write this rank's incomplete shards of ``sources``.

        :meth:`prepare` must have run (on one rank, before the others
        start). Returns the number of samples written.
        """
        manifest = load_manifest(self.root)
        if manifest is None:
            raise RuntimeError(f'feature cache {self.root!r}: no manifest; '
                               'call prepare() first')
        layout = manifest_layout(manifest)
        datasets = {(split, s.name): s.dataset
                    for split, srcs in sources.items() for s in srcs}
        mine = assign_shards(self.shard_tasks(manifest, list(sources)),
                             rank, world_size)
        todo = [task for task in mine if not manifest['shards'].get(
            shard_key(*task[:3]), {}).get('complete')]
        if check_space:
            check_disk_space(self.root, self.bytes_needed(manifest, todo),
                             f' for {len(todo)} shards of rank {rank}')
        total = sum(stop - start for *_, start, stop in todo)
        progress = _Progress(
            total, prefix=f'[rank {rank}]' if world_size > 1 else 'cache') \
            if self.progress else None
        for split, name, j, start, stop in todo:
            self._write_shard(layout, split, name, j, start, stop,
                              datasets[(split, name)], progress, rank)
        return total

    def _write_shard(self, layout: FeatureLayout, split: str, name: str,
                     index: int, start: int, stop: int, dataset, progress,
                     rank: int):
        final = shard_file(self.root, split, name, index)
        os.makedirs(osp.dirname(final), exist_ok=True)
        loader = DataLoader(
            Subset(dataset, range(start, stop)), batch_size=self.batch_size,
            shuffle=False, num_workers=self.num_workers,
            collate_fn=pseudo_collate)
        row = 0
        with open(final + '.partial', 'wb') as f:
            for data in loader:
                count = len(data['data_samples'])
                f.write(self._write_batch(layout, self.features(data),
                                          count).tobytes())
                row += count
                if progress is not None:
                    progress.update(count, f' {split}/{name}')
            if row != stop - start:
                raise RuntimeError(
                    f'dataset {name!r} (split {split}) gave {row} samples '
                    f'for shard {index}, expected {stop - start}')
            f.flush()
            os.fsync(f.fileno())
        os.replace(final + '.partial', final)
        fsync_dir(osp.dirname(final))
        mark_shard_complete(self.root, shard_key(split, name, index), start,
                            stop, rank)

    @staticmethod
    def _write_batch(layout: FeatureLayout,
                     feats: List[List[torch.Tensor]],
                     count: int) -> np.ndarray:
        """The rows of ``count`` samples: (count, numel), little-endian."""
        rows = np.empty((count, layout.numel),
                        dtype=np.dtype(layout.dtype).newbyteorder('<'))
        for t, level, sample_shape, offset in layout.entries:
            values = feats[t][level]
            if tuple(values.shape[-3:]) != tuple(layout.shapes[t][level]) \
                    or values.numel() != count * np.prod(sample_shape):
                raise ValueError(
                    f'teacher {layout.teachers[t]!r}, level l{level + 1}: '
                    f'maps of shape {tuple(values.shape)} for {count} '
                    f'samples but the cache stores {tuple(sample_shape)} '
                    'per sample (all samples must have the same input size)')
            size = int(np.prod(sample_shape))
            rows[:, offset:offset + size] = values.reshape(
                count, size).cpu().numpy()
        return rows


def missing_shards(root: str, splits: Sequence[str]) -> Dict[str, List[int]]:
    """``'split/dataset' -> incomplete shard indices`` (empty when done)."""
    manifest = load_manifest(root)
    out = {}
    for split in splits:
        for name in (manifest or {}).get('splits', {}).get(split, {}):
            missing = incomplete_shards(manifest, split, name)
            if missing:
                out[f'{split}/{name}'] = missing
    return out
