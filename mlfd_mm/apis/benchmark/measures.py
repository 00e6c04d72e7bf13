"""What the benchmark measures: step times (variants interleaved), peak RSS
(in a forked child), and the feature cache's write, read and item rates."""
import copy
import itertools
import multiprocessing
import os
import random
import time

import numpy as np
import torch
from mmengine.registry import MODELS

from ...cache import DatasetSource, FeatureCacheReader, FeatureCacheWriter
from ...cache.manifest import load_manifest, shard_file

# Training steps a peak-RSS child runs after building its variant.
RSS_STEPS = 3


def time_variants(steps: dict, count: int, warmup: int) -> tuple:
    """CPU seconds and wall seconds per step of each variant, interleaved
    (forward then reverse order on alternate rounds) so that machine noise
    hits all alike.

    Args:
        steps (dict): variant name -> step function.
        count (int): timed steps per variant.
        warmup (int): untimed rounds first.

    Returns:
        tuple[dict, dict]: name -> list of CPU seconds, name -> list of wall
        seconds, one entry per timed step.
    """
    for _ in range(warmup):
        for step in steps.values():
            step()
    cpu = {name: [] for name in steps}
    wall = {name: [] for name in steps}
    names = list(steps)
    for i in range(count):
        for name in (names if i % 2 == 0 else names[::-1]):
            start, start_cpu = time.perf_counter(), time.process_time()
            steps[name]()
            cpu[name].append(time.process_time() - start_cpu)
            wall[name].append(time.perf_counter() - start)
    return cpu, wall


def rss_mb(field: str = 'VmRSS') -> float:
    """This process's resident memory (or another field of
    ``/proc/self/status``, e.g. the peak 'VmHWM') in MB."""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1]) / 1024.0
    return float('nan')


def reset_peak_rss() -> float:
    """Reset this process's peak RSS (VmHWM) to its current RSS; return
    that RSS in MB."""
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')
    return rss_mb()


def _child_main(function, conn):
    try:
        conn.send(function())
    except BaseException as err:  # report, never hang the parent
        conn.send(dict(error=f'{type(err).__name__}: {err}'))
    finally:
        conn.close()


def in_forked_child(function, what: str, timeout: float = 600) -> dict:
    """``function()`` (which returns a dict) run in a forked child, so that
    its memory peak and whatever it opens stay there; an error in the child
    is raised here, naming ``what``."""
    context = multiprocessing.get_context('fork')
    parent, child = context.Pipe(duplex=False)
    process = context.Process(target=_child_main, args=(function, child))
    process.start()
    child.close()
    result = parent.recv() if parent.poll(timeout) else dict(error='timeout')
    process.join()
    if 'error' in result:
        raise RuntimeError(f'{what} child failed: {result["error"]}')
    return result


def _rss_of(builder) -> dict:
    start = reset_peak_rss()
    step = builder()
    for _ in range(RSS_STEPS):
        step()
    return dict(start_mb=start, peak_mb=rss_mb('VmHWM'))


def peak_rss(builder) -> dict:
    """Peak RSS of building a variant and training it ``RSS_STEPS`` steps,
    in a forked child whose peak is reset at its start.

    Returns:
        dict: ``start_mb``, ``peak_mb`` and ``added_mb`` (peak over start).
    """
    result = in_forked_child(lambda: _rss_of(builder), 'peak-RSS')
    result['added_mb'] = result['peak_mb'] - result['start_mb']
    return result


def build_cache(joint_cfg, datasets, root, dtype, seed, pool=None):
    """Cache the teachers' features of ``datasets`` (name -> dataset, as the
    'train' split) in ``root``; returns the samples written per second."""
    torch.manual_seed(seed)  # the variants' teachers, if random
    model = MODELS.build(copy.deepcopy(joint_cfg)).eval()
    writer = FeatureCacheWriter(
        model.teachers, root, model.data_preprocessor, dtype=dtype, pool=pool,
        shard_size=max(len(d) for d in datasets.values()), batch_size=64,
        progress=False)
    sources = {'train': [DatasetSource(n, d, []) for n, d in
                         datasets.items()]}
    start = time.perf_counter()
    writer.prepare(sources, force=True)
    count = writer.write(sources)
    return count / (time.perf_counter() - start)


def _evict(root):
    """Drop a cache's shard files from the page cache (this process's
    files only) so the next read comes from the disk."""
    manifest = load_manifest(root)
    for split, datasets in manifest['splits'].items():
        for name, entry in datasets.items():
            for j in range(entry['num_shards']):
                fd = os.open(shard_file(root, split, name, j), os.O_RDONLY)
                try:
                    os.fsync(fd)
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                finally:
                    os.close(fd)


def read_rate(root, cold: bool, seed: int, min_seconds: float = 0.3) -> float:
    """Samples/s of one process reading random samples' features, from the
    disk (``cold``: each sample once, page cache dropped first) or from
    memory (warm: for at least ``min_seconds``)."""
    if cold:
        _evict(root)
    reader = FeatureCacheReader(root, 'train')
    index = [(name, i) for name, entry in reader.datasets.items()
             for i in range(entry['length'])]
    random.Random(seed).shuffle(index)
    done, start = 0, time.perf_counter()
    out = np.empty(reader.layout.numel, dtype=reader.layout.dtype)
    for name, i in (index if cold else itertools.cycle(index)):
        reader.read(name, i, out)
        done += 1
        if not cold and done >= len(index) and \
                time.perf_counter() - start > min_seconds:
            break
    return done / (time.perf_counter() - start)


def item_rate(dataset, count: int, seed: int) -> float:
    """Samples/s of one process (one loader worker) producing items."""
    rng = random.Random(seed)
    start = time.perf_counter()
    for _ in range(count):
        dataset[rng.randrange(len(dataset))]
    return count / (time.perf_counter() - start)
