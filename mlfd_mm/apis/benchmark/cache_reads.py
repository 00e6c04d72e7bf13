"""Random-order reads of the feature cache at two sizes, side by side
(``tools/benchmark.py --cache-reads``): does the cost per sample, or the
memory, grow with the number of shard files?

Both caches are synthetic (no teachers run) and have the same per-sample
shape: 3 teachers x 3 levels of tiny maps, so that they build in seconds
and the number of files is what differs. The small one has the demo's
training set (3 x 1,000 samples); the large one T1's images, train and
test splits together (CIFAR-100 60,000, TinyImageNet 110,000,
ImageNet-Sketch 50,889). ``files_old_layout`` counts the files the
previous layout (one ``.npy`` per shard, teacher and level) had.

Each round reads the same number of random samples (with replacement) from
each cache, in a forked child whose peak RSS is reset at its start; the
rounds alternate small/large; the median time per sample is reported.

For reference (``old_layout=True``), the same two caches are also written
in the previous layout and read the way its reader did (one ``np.load``
memory map per file, at most 256 kept), with a tenth of the reads: the
measurement that should, and does, show that layout slowing down.
"""
import collections
import json
import os
import os.path as osp
import shutil
import statistics
import tempfile
import time

import numpy as np

from ...cache import FeatureCacheReader
from ...cache.layout import FeatureLayout
from ...cache.manifest import (FORMAT, atomic_write_json, layout_offsets,
                               manifest_path, shard_file, shard_key)
from ...cache.writer import DEFAULT_SHARD_SIZE
from .measures import in_forked_child, reset_peak_rss, rss_mb

SIZES = dict(
    small=dict(mnist=1000, fashion_mnist=1000, animals=1000),
    large=dict(cifar100=60000, tiny_imagenet=110000, imagenet_sketch=50889))
TEACHERS, LEVELS = 3, 3
MAP_CHW = (4, 2, 2)  # tiny: 16 values per map, 288 B per sample in fp16
TARGET = 1.2  # large / small, per sample and peak RSS


def synthetic_cache(root, sizes, shard_size=DEFAULT_SHARD_SIZE,
                    chw=MAP_CHW, dtype='float16', seed=0):
    """Write a cache of random values, as the writer lays it out, with a
    manifest that :class:`FeatureCacheReader` accepts (the teachers'
    identities are placeholders). Returns the manifest."""
    names = [f'teacher{t}' for t in range(TEACHERS)]
    layout = FeatureLayout(names, [[chw] * LEVELS] * TEACHERS,
                           [1] * TEACHERS, dtype)
    manifest = dict(
        format=FORMAT, dtype=dtype, byteorder='little', pool=None,
        shard_size=shard_size, shapes=[[list(chw)] * LEVELS] * TEACHERS,
        teachers=[dict(name=n, config_sha256='synthetic',
                       weights_sha256='synthetic', checkpoint=None,
                       checkpoint_sha256=None, num_segments=1,
                       levels=[f'l{k + 1}' for k in range(LEVELS)])
                  for n in names],
        bytes_per_sample=layout.bytes_per_sample,
        offsets=layout_offsets(layout), splits=dict(train={}), shards={})
    rng = np.random.default_rng(seed)
    for name, length in sizes.items():
        num_shards = -(-length // shard_size)
        manifest['splits']['train'][name] = dict(length=length,
                                                 num_shards=num_shards)
        for j in range(num_shards):
            start, stop = j * shard_size, min((j + 1) * shard_size, length)
            path = shard_file(root, 'train', name, j)
            os.makedirs(osp.dirname(path), exist_ok=True)
            rng.standard_normal((stop - start, layout.numel),
                                dtype=np.float32).astype('<f2' if dtype ==
                                'float16' else '<f4').tofile(path)
            manifest['shards'][shard_key('train', name, j)] = dict(
                complete=True, start=start, stop=stop, rank=0)
    atomic_write_json(manifest_path(root), manifest)
    return manifest


class OldLayoutReader:
    """How the layout-1 reader read: one memory-mapped ``.npy`` per shard,
    teacher and level, at most ``max_open`` maps open (LRU)."""

    def __init__(self, root, max_open=256):
        self.inner = FeatureCacheReader(root, 'train')
        self.root, self.max_open = root, max_open
        self.datasets, self.layout = self.inner.datasets, self.inner.layout
        self._open = collections.OrderedDict()

    def read(self, name, index, out):
        shard, row = divmod(index, self.inner.shard_size)
        for t, level, shape, offset in self.layout.entries:
            key = (name, t, level, shard)
            array = self._open.get(key)
            if array is None:
                array = np.load(old_shard_file(self.root, name, t, level,
                                               shard), mmap_mode='r')
                self._open[key] = array
                if len(self._open) > self.max_open:
                    self._open.popitem(last=False)
            else:
                self._open.move_to_end(key)
            size = int(np.prod(shape))
            out[offset:offset + size] = array[row].reshape(-1)
        return out


def old_shard_file(root, name, teacher, level, shard):
    return osp.join(root, 'train', name, f'teacher{teacher}',
                    f'l{level + 1}', f'{shard:05d}.npy')


def write_old_layout(root):
    """Add the layout-1 files of a synthetic cache next to its shards."""
    reader = FeatureCacheReader(root, 'train')
    for name, entry in reader.datasets.items():
        for j in range(entry['num_shards']):
            rows = np.fromfile(shard_file(root, 'train', name, j),
                               dtype=reader.dtype).reshape(
                                   -1, reader.layout.numel)
            for t, level, shape, offset in reader.layout.entries:
                path = old_shard_file(root, name, t, level, j)
                os.makedirs(osp.dirname(path), exist_ok=True)
                size = int(np.prod(shape))
                np.save(path, rows[:, offset:offset + size].reshape(
                    (-1, ) + tuple(shape)))


def _random_reads(root, reads, seed, old=False):
    reader = OldLayoutReader(root) if old else FeatureCacheReader(
        root, 'train')
    names = list(reader.datasets)
    bounds = np.cumsum([reader.datasets[n]['length'] for n in names])
    picks = np.random.default_rng(seed).integers(0, bounds[-1], reads)
    which = np.searchsorted(bounds, picks, side='right')
    local = picks - np.concatenate([[0], bounds[:-1]])[which]
    out = np.empty(reader.layout.numel, dtype=reader.layout.dtype)
    start_mb = reset_peak_rss()
    start = time.perf_counter()
    for w, i in zip(which.tolist(), local.tolist()):
        reader.read(names[w], i, out)
    seconds = time.perf_counter() - start
    return dict(us_per_sample=seconds / reads * 1e6, start_mb=start_mb,
                peak_mb=rss_mb('VmHWM'), open_files=len(reader._open))


def _measure(root, reads, seed, old=False):
    return in_forked_child(lambda: _random_reads(root, reads, seed, old),
                           'cache-read')


def run_cache_reads(reads=100000, rounds=3, work_dir=None, out=None,
                    seed=0, command='', old_layout=False):
    """Build both caches in ``work_dir`` (a temporary folder by default,
    deleted after), measure, and write the report as JSON to ``out``."""
    tmp = tempfile.mkdtemp(prefix='cache_reads_', dir=work_dir)
    try:
        report = dict(command=command, reads_per_round=reads, rounds=rounds,
                      target=TARGET, caches={})
        for size, sizes in SIZES.items():
            root = osp.join(tmp, size)
            start = time.perf_counter()
            manifest = synthetic_cache(root, sizes)
            shards = sum(e['num_shards']
                         for e in manifest['splits']['train'].values())
            report['caches'][size] = dict(
                samples=sum(sizes.values()), datasets=sizes, files=shards,
                files_old_layout=shards * TEACHERS * LEVELS,
                bytes_per_sample=manifest['bytes_per_sample'],
                build_s=time.perf_counter() - start, rounds=[])
            if old_layout:
                write_old_layout(root)
                report['caches'][size]['old_layout_rounds'] = []
        for r in range(rounds):
            order = list(SIZES) if r % 2 == 0 else list(SIZES)[::-1]
            for size in order:
                report['caches'][size]['rounds'].append(
                    _measure(osp.join(tmp, size), reads, seed + r))
                if old_layout:
                    report['caches'][size]['old_layout_rounds'].append(
                        _measure(osp.join(tmp, size), max(1, reads // 10),
                                 seed + r, old=True))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for entry in report['caches'].values():
        if old_layout:
            entry['old_layout_us_per_sample'] = statistics.median(
                x['us_per_sample'] for x in entry['old_layout_rounds'])
            entry['old_layout_peak_mb'] = max(
                x['peak_mb'] for x in entry['old_layout_rounds'])
        entry['us_per_sample'] = statistics.median(
            x['us_per_sample'] for x in entry['rounds'])
        entry['peak_mb'] = max(x['peak_mb'] for x in entry['rounds'])
        entry['added_mb'] = max(x['peak_mb'] - x['start_mb']
                                for x in entry['rounds'])
    small, large = report['caches']['small'], report['caches']['large']
    report['ratio_us'] = large['us_per_sample'] / small['us_per_sample']
    report['ratio_peak_rss'] = large['peak_mb'] / small['peak_mb']
    report['met'] = max(report['ratio_us'],
                        report['ratio_peak_rss']) <= TARGET
    if old_layout:
        report['old_layout_ratio_us'] = (large['old_layout_us_per_sample'] /
                                         small['old_layout_us_per_sample'])
        report['old_layout_ratio_peak_rss'] = (large['old_layout_peak_mb'] /
                                               small['old_layout_peak_mb'])
    if out:
        os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
        with open(out, 'w') as f:
            json.dump(report, f, indent=2)
    return report


def format_cache_reads(report) -> str:
    lines = [f'feature-cache random reads ({report["reads_per_round"]:,} '
             f'per cache and round, {report["rounds"]} rounds, median):',
             f'{"cache":<6} {"samples":>8} {"files":>6} {"(old)":>6} '
             f'{"us/sample":>10} {"peak RSS MB":>12} {"added MB":>9}']
    for size, c in report['caches'].items():
        lines.append(
            f'{size:<6} {c["samples"]:>8,} {c["files"]:>6,} '
            f'{c["files_old_layout"]:>6,} {c["us_per_sample"]:>10.2f} '
            f'{c["peak_mb"]:>12.1f} {c["added_mb"]:>9.2f}')
    for size, c in report['caches'].items():
        if 'old_layout_us_per_sample' in c:
            lines.append(
                f'{size + " (layout 1, mmaps)":<29} '
                f'{c["old_layout_us_per_sample"]:>10.2f} '
                f'{c["old_layout_peak_mb"]:>12.1f}')
    if 'old_layout_ratio_us' in report:
        lines.append(f'layout 1 large/small: '
                     f'{report["old_layout_ratio_us"]:.3f}x per sample, '
                     f'{report["old_layout_ratio_peak_rss"]:.3f}x peak RSS')
    lines.append(
        f'large/small: {report["ratio_us"]:.3f}x per sample, '
        f'{report["ratio_peak_rss"]:.3f}x peak RSS (target <= '
        f'{report["target"]}x both): '
        f'{"met" if report["met"] else "NOT met"}')
    return '\n'.join(lines)
