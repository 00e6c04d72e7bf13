"""What the teacher-feature cache buys: training steps, memory and cache
throughput, side by side in one run (ratios, not absolute times: the
machines are noisy).

    python tools/benchmark.py                     # offline set, < 5 min
    python tools/benchmark.py --out work_dirs/benchmark/benchmark.json

1. joint-teacher training step: teachers run online vs features from the
   cache (float16);
2. MLFD student step with the joint teacher online, and with the cache, vs a
   plain supervised step of the same student (the floor);
3. peak memory (RSS) of each variant;
4. cache bytes per sample (float16 vs float32) and the cache's read
   throughput against the rate the cached steps consume samples.

Steps are timed in this process, the variants interleaved (ABC CBA ...)
over the same pre-loaded batches, on one torch thread; the median of each
is reported. Ratios and targets use process CPU time, which other jobs on a
shared machine disturb far less than wall time (both are reported; with one
thread and no loader workers in the timed code they agree on an idle
machine). The step is the model's work (data preprocessor, forward,
backward, optimiser step); data loading is measured separately in (4), and
the consumption rates there use wall time. Peak RSS: each variant runs in
a forked child that resets its peak (``/proc/self/clear_refs``), builds the
variant, loads its batches and trains 3 steps; the report gives the peak
over the child's starting RSS (what the variant adds to a process that has
imported the stack) and that plus this process's RSS after imports (an
estimate of a process running only that variant).

Teachers whose checkpoint file is missing get random weights (timings do
not depend on weights); the JSON says which. A small cache of the first
``--samples-per-dataset`` training samples of each dataset is built in a
temporary folder first.
"""
import argparse
import copy
import itertools
import json
import multiprocessing
import os
import os.path as osp
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..')))
import mlfd_mm  # noqa: E402,F401  (applies compat fixes before torchvision)
import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmengine.config import Config, ConfigDict  # noqa: E402
from mmengine.dataset import pseudo_collate  # noqa: E402
from mmengine.registry import (DATASETS, MODELS,  # noqa: E402
                               init_default_scope)

from mlfd_mm.cache import (CachedFeatureDataset, DatasetSource,  # noqa: E402
                           FeatureCacheReader, FeatureCacheWriter)
from mlfd_mm.cache.manifest import load_manifest, shard_file  # noqa: E402
from mlfd_mm.datasets import MultiDatasetWrapper  # noqa: E402

TARGETS = dict(joint_cached_vs_online=0.25, student_online_vs_plain=1.3,
               student_cached_vs_plain=1.1)
RSS_STEPS = 3


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--joint-config',
                        default='configs/mlfd/joint_offline.py')
    parser.add_argument('--student-config',
                        default='configs/mlfd/student_offline_mnist.py')
    parser.add_argument(
        '--teacher-checkpoint', nargs='+', default=[], metavar='NAME=PATH',
        help='checkpoint of a teacher of the joint config (default: the '
        "config's; random weights where the file is missing)")
    parser.add_argument(
        '--data-root', nargs='+', default=[], metavar='NAME=PATH',
        help='data_root of a dataset (default: the configs\')')
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--steps', type=int, default=10,
                        help='timed steps per variant')
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--samples-per-dataset', type=int, default=128,
                        help='training samples of each dataset cached and '
                        'used')
    parser.add_argument('--threads', type=int, default=1,
                        help='torch threads (1: the machine is shared)')
    parser.add_argument('--skip-rss', action='store_true',
                        help='do not measure peak RSS')
    parser.add_argument('--out', default='work_dirs/benchmark/benchmark.json')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def _pairs(items, flag):
    out = {}
    for item in items:
        key, sep, value = item.partition('=')
        if not sep:
            raise SystemExit(f'{flag} {item!r}: use NAME=PATH')
        out[key] = value
    return out


def _plain(value):
    return value.to_dict() if isinstance(value, ConfigDict) else copy.deepcopy(
        value)


def rss_mb(field: str = 'VmRSS') -> float:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1]) / 1024.0
    return float('nan')


# ----------------------------------------------------------------------
# data
# ----------------------------------------------------------------------
class FirstSamples:
    """The first ``n`` samples of a dataset (with ``get_data_info``, so the
    cache's dataset identity covers exactly them)."""

    def __init__(self, dataset, n: int):
        self.dataset = dataset
        self.n = min(int(n), len(dataset))

    @property
    def metainfo(self):
        return getattr(self.dataset, 'metainfo', {})

    def __len__(self):
        return self.n

    def _check(self, idx):
        if not 0 <= idx < self.n:
            raise IndexError(idx)

    def __getitem__(self, idx):
        self._check(idx)
        return self.dataset[idx]

    def get_data_info(self, idx):
        self._check(idx)
        return self.dataset.get_data_info(idx)


def joint_datasets(cfg, split_pipeline, n, data_roots):
    """The joint config's training datasets (their first n samples), with
    the train or the test pipeline: {name: dataset}."""
    wrapper = _plain(cfg.train_dataloader.dataset)
    test = _plain(cfg.test_dataloader.dataset)
    out = {}
    for name, entry, test_entry in zip(wrapper['names'], wrapper['datasets'],
                                       test['datasets']):
        from mlfd_mm.datasets.multi_dataset import resolve_dataset_config
        dataset_cfg = resolve_dataset_config(entry)
        if split_pipeline == 'test':
            dataset_cfg['pipeline'] = resolve_dataset_config(
                test_entry)['pipeline']
        if name in data_roots:
            dataset_cfg['data_root'] = data_roots[name]
        dataset_cfg['serialize_data'] = False  # skips a slow gc.collect()
        out[name] = FirstSamples(DATASETS.build(dataset_cfg), n)
    return out


def batches(dataset, batch_size: int, count: int, seed: int) -> list:
    """``count`` pseudo-collated batches of random samples."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        idx = [rng.randrange(len(dataset)) for _ in range(batch_size)]
        out.append(pseudo_collate([dataset[i] for i in idx]))
    return out


# ----------------------------------------------------------------------
# models and steps
# ----------------------------------------------------------------------
def joint_model_cfg(cfg, checkpoints) -> tuple:
    """The JointTeacher model config with usable checkpoints, and what the
    teachers' weights are."""
    model = _plain(cfg.model)
    model.pop('feature_cache', None)
    weights = {}
    for teacher in model['teachers']:
        name = teacher['name']
        path = checkpoints.get(name, teacher.get('checkpoint'))
        if path and osp.isfile(path):
            teacher['checkpoint'] = path
            weights[name] = path
        else:
            teacher['checkpoint'] = None
            weights[name] = f'random (no file at {path})'
    return model, weights


def make_step(model, optimizer, batch_list):
    """One training step of ``model`` on the next batch."""
    cycle = itertools.cycle(batch_list)

    def step():
        data = model.data_preprocessor(next(cycle), True)
        losses = model(data['inputs'], data['data_samples'], mode='loss')
        loss, _ = model.parse_losses(losses)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    return step


def _trainable(model):
    return [p for p in model.parameters() if p.requires_grad]


class Variants:
    """Builders of every benchmarked variant: each returns a step function
    (model, optimiser and batches built inside, so that a forked child
    measures what the variant allocates)."""

    def __init__(self, args, joint_cfg, student_cfg, cache_root, pooled_root,
                 joint_train, student_train, student_name):
        self.args = args
        self.pooled_root = pooled_root
        self.joint_cfg = joint_cfg
        self.student_cfg = student_cfg
        self.cache_root = cache_root
        self.joint_train = joint_train
        self.student_train = student_train
        self.student_name = student_name
        self.count = 2  # batches per variant, cycled

    # joint teacher ----------------------------------------------------
    def _joint(self, cached: bool, pooled: bool = False):
        cfg = copy.deepcopy(self.joint_cfg)
        root = self.pooled_root if pooled else self.cache_root
        if cached:
            cfg['feature_cache'] = dict(root=root,
                                        pool='min' if pooled else None)
        torch.manual_seed(self.args.seed)  # same teachers if random
        model = MODELS.build(cfg)
        model.train()
        optimizer = torch.optim.AdamW(_trainable(model), lr=2e-3,
                                      weight_decay=0.05)
        names = list(self.joint_train)
        wrapper = MultiDatasetWrapper(
            [self.joint_train[n] for n in names], names=names)
        if cached:
            wrapper = CachedFeatureDataset(wrapper, root, 'train')
        return make_step(model, optimizer,
                         batches(wrapper, self.args.batch_size, self.count,
                                 self.args.seed))

    def joint_online(self):
        return self._joint(False)

    def joint_cached(self):
        return self._joint(True)

    def joint_cached_pooled(self):
        return self._joint(True, pooled=True)

    # student ----------------------------------------------------------
    def student_plain(self):
        from mlfd_mm.models.distillers.mlfd_distiller import (
            resolve_student_config, student_data_preprocessor)
        student = resolve_student_config(self.student_cfg['student'])
        student['data_preprocessor'] = student_data_preprocessor(
            student, self.student_cfg.get('data_preprocessor'))
        return self._student(MODELS.build(student))

    def _distiller(self, cached: bool, pooled: bool = False):
        cfg = copy.deepcopy(self.student_cfg)
        joint = copy.deepcopy(self.joint_cfg)
        root = self.pooled_root if pooled else self.cache_root
        if cached:
            joint['feature_cache'] = dict(root=root,
                                          pool='min' if pooled else None)
        cfg['teacher'] = dict(config=joint, checkpoint=None)
        torch.manual_seed(self.args.seed)  # same teachers if random
        return self._student(MODELS.build(cfg), root if cached else None)

    def student_online(self):
        return self._distiller(False)

    def student_cached(self):
        return self._distiller(True)

    def student_cached_pooled(self):
        return self._distiller(True, pooled=True)

    def _student(self, model, cache_root=None):
        model.train()
        optimizer = torch.optim.SGD(_trainable(model), lr=0.05, momentum=0.9,
                                    weight_decay=5e-4)
        dataset = self.student_train
        if cache_root:
            dataset = CachedFeatureDataset(
                dataset, cache_root, 'train', dataset_name=self.student_name)
        return make_step(model, optimizer,
                         batches(dataset, self.args.batch_size, self.count,
                                 self.args.seed + 1))


def time_variants(steps: dict, count: int, warmup: int) -> tuple:
    """CPU seconds and wall seconds per step of each variant, interleaved
    (forward then reverse order on alternate rounds) so that machine noise
    hits all alike."""
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


def _rss_child(builder, conn):
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')  # reset the peak (VmHWM) to the current RSS
        start = rss_mb()
        step = builder()
        for _ in range(RSS_STEPS):
            step()
        conn.send(dict(start_mb=start, peak_mb=rss_mb('VmHWM')))
    except BaseException as err:  # report, never hang the parent
        conn.send(dict(error=f'{type(err).__name__}: {err}'))
    finally:
        conn.close()


def peak_rss(builder) -> dict:
    context = multiprocessing.get_context('fork')
    parent, child = context.Pipe(duplex=False)
    process = context.Process(target=_rss_child, args=(builder, child))
    process.start()
    child.close()
    result = parent.recv() if parent.poll(600) else dict(error='timeout')
    process.join()
    if 'error' in result:
        raise RuntimeError(f'peak-RSS child failed: {result["error"]}')
    result['added_mb'] = result['peak_mb'] - result['start_mb']
    return result


# ----------------------------------------------------------------------
# cache
# ----------------------------------------------------------------------
def build_cache(joint_cfg, datasets, root, dtype, seed, pool=None):
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
            for t, teacher in enumerate(manifest['teachers']):
                for level in range(len(manifest['shapes'][t])):
                    for j in range(entry['num_shards']):
                        path = shard_file(root, split, name,
                                          teacher['name'], level, j)
                        fd = os.open(path, os.O_RDONLY)
                        try:
                            os.fsync(fd)
                            os.posix_fadvise(fd, 0, 0,
                                             os.POSIX_FADV_DONTNEED)
                        finally:
                            os.close(fd)


def read_rate(root, cold: bool, seed: int, min_seconds: float = 0.3) -> float:
    """Samples/s of one process reading random samples' features."""
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


# ----------------------------------------------------------------------
# report
# ----------------------------------------------------------------------
def _median_ms(times):
    return 1000 * statistics.median(times)


def _verdict(ratio, target):
    if ratio <= target:
        return f'target <= {target}: met'
    return f'target <= {target}: MISSED by {ratio - target:.2f}'


def print_table(report):
    lines = []
    rss = report.get('peak_rss_mb', {})

    def row(label, key, section):
        entry = report[section]['variants'][key]
        added = rss.get(key, {}).get('added_mb')
        lines.append(
            f'  {label:<30} {entry["median_ms"]:>10.1f} '
            f'{entry["ratio"]:>7.2f} {entry["wall_median_ms"]:>10.1f} '
            f'{entry["wall_ratio"]:>7.2f} '
            f'{("%.0f" % added) if added is not None else "-":>12}')

    head = (f'  {"variant":<30} {"CPU ms":>10} {"ratio":>7} '
            f'{"wall ms":>10} {"ratio":>7} {"peak RSS +MB":>12}')
    joint = report['joint_step']
    lines += [f'joint-teacher training step (batch '
              f'{report["settings"]["batch_size"]}, mixed datasets)', head]
    row('teachers online', 'joint_online', 'joint_step')
    row('cached features (float16)', 'joint_cached', 'joint_step')
    row("cached, pool='min' (float16)", 'joint_cached_pooled', 'joint_step')
    lines.append(f'  cached / online = {joint["ratio_cached_vs_online"]:.3f}'
                 f'  ({joint["verdict"]})')
    student = report.get('student_step', {})
    if 'variants' in student:
        lines += ['', f'MLFD student step ({student["dataset"]}, batch '
                  f'{report["settings"]["batch_size"]})', head]
        row('plain supervised (floor)', 'student_plain', 'student_step')
        row('MLFD, joint teacher online', 'student_online', 'student_step')
        row('MLFD, joint teacher cached', 'student_cached', 'student_step')
        row("MLFD, cached, pool='min'", 'student_cached_pooled',
            'student_step')
        for mode in ('online', 'cached'):
            lines.append(
                f'  {mode} / plain = '
                f'{student[f"ratio_{mode}_vs_plain"]:.3f}  '
                f'({student[f"verdict_{mode}"]})')
    elif student:
        lines += ['', f'MLFD student step: skipped ({student["skipped"]})']
    cache = report['cache']
    b = cache['bytes_per_sample']
    lines += ['', 'cache',
              f'  bytes per sample: float16 {b["float16"]:,}, float32 '
              f'{b["float32"]:,} (float16/float32 = '
              f'{b["float16"] / b["float32"]:.2f}); float16 with '
              f"pool='min' {b['float16_pool_min']:,}"]
    for dtype, rates in cache['read_samples_per_s'].items():
        lines.append(f'  read {dtype}: {rates["warm"]:,.0f} samples/s warm, '
                     f'{rates["cold"]:,.0f} cold (one process, features '
                     'only)')
    items = cache['item_samples_per_s']
    lines.append(f'  loader item, one worker: {items["images_only"]:,.0f} '
                 f'samples/s images only, {items["images_and_features"]:,.0f}'
                 ' with cached features')
    for key, value in cache['consumption_samples_per_s'].items():
        lines.append(
            f'  {key} step consumes {value:,.0f} samples/s: cache read '
            f'{cache["read_vs_consumption"][key]:.1f}x that, one worker\'s '
            f'items {cache["item_vs_consumption"][key]:.1f}x')
    if 'peak_rss_mb' in report:
        lines += ['', f'peak RSS: {report["memory_method"]}',
                  f'  this process after imports: '
                  f'{report["baseline_rss_mb"]:.0f} MB; per variant, peak '
                  'over the child\'s start (MB): ' + ', '.join(
                      f'{k} {v["added_mb"]:.0f}'
                      for k, v in report['peak_rss_mb'].items())]
    lines.append(f'\ntotal {report["elapsed_s"]:.0f} s; JSON: '
                 f'{report["settings"]["out"]}')
    print('\n'.join(lines))


def main(argv=None):
    args = parse_args(argv)
    started = time.perf_counter()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    baseline_rss = rss_mb()
    checkpoints = _pairs(args.teacher_checkpoint, '--teacher-checkpoint')
    data_roots = _pairs(args.data_root, '--data-root')

    cfg = Config.fromfile(args.joint_config)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    joint_cfg, teacher_weights = joint_model_cfg(cfg, checkpoints)
    n = args.samples_per_dataset
    print(f'building caches of {n} training samples per dataset ...',
          flush=True)
    test_sets = joint_datasets(cfg, 'test', n, data_roots)
    train_sets = joint_datasets(cfg, 'train', n, data_roots)
    work = tempfile.mkdtemp(prefix='mlfd_benchmark_')
    roots = {d: osp.join(work, d) for d in ('float16', 'float32')}
    write_rate = {d: build_cache(joint_cfg, test_sets, r, d, args.seed)
                  for d, r in roots.items()}
    pooled_root = osp.join(work, 'float16_pool_min')
    build_cache(joint_cfg, test_sets, pooled_root, 'float16', args.seed,
                pool='min')

    student_cfg, student_name, skipped = None, None, None
    try:
        import mlfd_mm.models.distillers  # noqa: F401  (registers it)
        scfg = Config.fromfile(args.student_config)
        student_cfg = _plain(scfg.model)
        if scfg.get('data_preprocessor'):
            student_cfg.setdefault('data_preprocessor',
                                   _plain(scfg.data_preprocessor))
        student_name = student_cfg['dataset']
    except ImportError as err:
        skipped = f'MLFDDistiller not available: {err}'
    variants = Variants(args, joint_cfg, student_cfg, roots['float16'],
                        pooled_root, train_sets,
                        train_sets.get(student_name) if student_name else
                        None, student_name)

    print('timing steps ...', flush=True)
    builders = dict(joint_online=variants.joint_online,
                    joint_cached=variants.joint_cached,
                    joint_cached_pooled=variants.joint_cached_pooled)
    if student_cfg is not None:
        builders.update(student_plain=variants.student_plain,
                        student_online=variants.student_online,
                        student_cached=variants.student_cached,
                        student_cached_pooled=variants.student_cached_pooled)
    steps = {name: build() for name, build in builders.items()}
    times, wall = time_variants(steps, args.steps, args.warmup)
    medians = {k: statistics.median(v) for k, v in times.items()}

    def section(keys, floor):
        return {k: dict(median_ms=1000 * medians[k],
                        ratio=medians[k] / medians[floor],
                        times_ms=[round(1000 * t, 2) for t in times[k]],
                        wall_median_ms=1000 * statistics.median(wall[k]),
                        wall_ratio=statistics.median(wall[k]) /
                        statistics.median(wall[floor]),
                        wall_times_ms=[round(1000 * t, 2) for t in wall[k]])
                for k in keys}

    report = dict(
        command='python tools/benchmark.py ' + ' '.join(
            argv if argv is not None else sys.argv[1:]),
        settings=dict(vars(args)),
        environment=dict(
            torch=torch.__version__, python=platform.python_version(),
            threads=torch.get_num_threads(), cpus=os.cpu_count(),
            load_average=list(os.getloadavg()),
            teacher_weights=teacher_weights),
        targets=TARGETS)
    ratio = medians['joint_cached'] / medians['joint_online']
    report['joint_step'] = dict(
        variants=section(['joint_online', 'joint_cached',
                          'joint_cached_pooled'], 'joint_online'),
        ratio_cached_vs_online=ratio,
        ratio_cached_pooled_vs_online=(medians['joint_cached_pooled'] /
                                       medians['joint_online']),
        verdict=_verdict(ratio, TARGETS['joint_cached_vs_online']))
    if student_cfg is not None:
        online = medians['student_online'] / medians['student_plain']
        cached = medians['student_cached'] / medians['student_plain']
        report['student_step'] = dict(
            dataset=student_name,
            variants=section(
                ['student_plain', 'student_online', 'student_cached',
                 'student_cached_pooled'], 'student_plain'),
            ratio_online_vs_plain=online, ratio_cached_vs_plain=cached,
            ratio_cached_pooled_vs_plain=(medians['student_cached_pooled'] /
                                          medians['student_plain']),
            verdict_online=_verdict(online,
                                    TARGETS['student_online_vs_plain']),
            verdict_cached=_verdict(cached,
                                    TARGETS['student_cached_vs_plain']))
    else:
        report['student_step'] = dict(skipped=skipped)
    del steps

    print('measuring the cache ...', flush=True)
    layout = {d: FeatureCacheReader(r, 'train').layout
              for d, r in roots.items()}
    reads = {d: dict(warm=read_rate(r, False, args.seed),
                     cold=read_rate(r, True, args.seed))
             for d, r in roots.items()}
    names = list(train_sets)
    plain_wrapper = MultiDatasetWrapper([train_sets[k] for k in names],
                                        names=names)
    cached_wrapper = CachedFeatureDataset(plain_wrapper, roots['float16'],
                                          'train')
    count = max(64, min(256, len(plain_wrapper)))
    items = dict(images_only=item_rate(plain_wrapper, count, args.seed),
                 images_and_features=item_rate(cached_wrapper, count,
                                               args.seed))
    wall_medians = {k: statistics.median(v) for k, v in wall.items()}
    consumption = {
        'joint_cached': args.batch_size / wall_medians['joint_cached']}
    if student_cfg is not None:
        consumption['student_cached'] = (args.batch_size /
                                         wall_medians['student_cached'])
    report['cache'] = dict(
        bytes_per_sample=dict(
            {d: l.bytes_per_sample for d, l in layout.items()},
            float16_pool_min=FeatureCacheReader(
                pooled_root, 'train').layout.bytes_per_sample),
        write_samples_per_s=write_rate,
        read_samples_per_s=reads,
        item_samples_per_s=items,
        consumption_samples_per_s=consumption,
        read_vs_consumption={
            k: reads['float16']['cold'] / v for k, v in consumption.items()},
        item_vs_consumption={
            k: items['images_and_features'] / v
            for k, v in consumption.items()})

    if not args.skip_rss:
        print('measuring peak RSS (one forked child per variant) ...',
              flush=True)
        report['memory_method'] = (
            'each variant in a forked child: peak RSS (VmHWM, reset via '
            '/proc/self/clear_refs at the start) minus the child\'s RSS at '
            f'the start, over building the variant and {RSS_STEPS} '
            'training steps')
        report['baseline_rss_mb'] = baseline_rss
        report['peak_rss_mb'] = {k: peak_rss(b) for k, b in builders.items()}
    shutil.rmtree(work, ignore_errors=True)
    report['elapsed_s'] = time.perf_counter() - started
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(report, f, indent=1)
    print()
    print_table(report)
    return report


if __name__ == '__main__':
    main()
