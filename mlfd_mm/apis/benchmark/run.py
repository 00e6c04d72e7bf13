"""What the teacher-feature cache buys, measured side by side in one run:
training steps, memory and cache throughput (see tools/benchmark.py for the
method)."""
import json
import os
import os.path as osp
import platform
import shutil
import statistics
import tempfile
import time

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from ...cache import CachedFeatureDataset, FeatureCacheReader
from ...config import as_dict, complete_config
from ...datasets import MultiDatasetWrapper
from .measures import (RSS_STEPS, build_cache, item_rate, peak_rss,
                       read_rate, rss_mb, time_variants)
from .report import TARGETS, step_section, verdict
from .training_floor import floor_variants, training_floor
from .variants import (Variants, build_joint_output_caches, joint_datasets,
                       joint_model_cfg)

_JOINT_VARIANTS = ['joint_online', 'joint_cached', 'joint_cached_pooled']
_STUDENT_VARIANTS = ['student_plain', 'student_online', 'student_cached',
                     'student_cached_pooled', 'student_joint_output_float16',
                     'student_joint_output_float32']
# The student from the joint-output cache against the plain step (issue 12).
JOINT_OUTPUT_TARGET = 1.10


def _student_model_cfg(path):
    """The MLFDDistiller model config of a student config file, with the
    file's top-level data preprocessor."""
    scfg = Config.fromfile(path)
    student_cfg = as_dict(scfg.model)
    if scfg.get('data_preprocessor'):
        student_cfg.setdefault('data_preprocessor',
                               as_dict(scfg.data_preprocessor))
    return student_cfg


def _step_sections(cpu, wall):
    """The joint-teacher and student step sections of the report."""
    medians = {k: statistics.median(v) for k, v in cpu.items()}
    ratio = medians['joint_cached'] / medians['joint_online']
    joint = dict(
        variants=step_section(cpu, wall, _JOINT_VARIANTS, 'joint_online'),
        ratio_cached_vs_online=ratio,
        ratio_cached_pooled_vs_online=(medians['joint_cached_pooled'] /
                                       medians['joint_online']),
        verdict=verdict(ratio, TARGETS['joint_cached_vs_online']))
    online = medians['student_online'] / medians['student_plain']
    cached = medians['student_cached'] / medians['student_plain']
    student = dict(
        variants=step_section(cpu, wall, _STUDENT_VARIANTS, 'student_plain'),
        ratio_online_vs_plain=online, ratio_cached_vs_plain=cached,
        ratio_cached_pooled_vs_plain=(medians['student_cached_pooled'] /
                                      medians['student_plain']),
        verdict_online=verdict(online, TARGETS['student_online_vs_plain']),
        verdict_cached=verdict(cached, TARGETS['student_cached_vs_plain']))
    for dtype in ('float16', 'float32'):
        key = f'student_joint_output_{dtype}'
        ratio = medians[key] / medians['student_plain']
        student[f'ratio_joint_output_{dtype}_vs_plain'] = ratio
        if dtype == 'float16':
            student['verdict_joint_output'] = verdict(ratio,
                                                      JOINT_OUTPUT_TARGET)
    return joint, student


def _cache_section(roots, pooled_root, train_sets, wall, batch_size, seed,
                   write_rate):
    """Bytes per sample, write and read rates (warm and cold), loader item
    rates, and how they compare with the rate the cached steps consume
    samples."""
    layout = {d: FeatureCacheReader(r, 'train').layout
              for d, r in roots.items()}
    reads = {d: dict(warm=read_rate(r, False, seed),
                     cold=read_rate(r, True, seed))
             for d, r in roots.items()}
    names = list(train_sets)
    plain_wrapper = MultiDatasetWrapper([train_sets[k] for k in names],
                                        names=names)
    cached_wrapper = CachedFeatureDataset(plain_wrapper, roots['float16'],
                                          'train')
    count = max(64, min(256, len(plain_wrapper)))
    items = dict(images_only=item_rate(plain_wrapper, count, seed),
                 images_and_features=item_rate(cached_wrapper, count, seed))
    consumption = {key: batch_size / statistics.median(wall[key])
                   for key in ('joint_cached', 'student_cached')}
    return dict(
        bytes_per_sample=dict(
            {d: lay.bytes_per_sample for d, lay in layout.items()},
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


# The configs the offline cached pipeline trains (configs/pipelines/
# offline_cached.py): their fusion neck and connectors pool before they
# project (shrink_first); each variant (teachers online, cached) is built
# from the same model config, its cache option removed or set.
JOINT_CONFIG = 'configs/mlfd/joint_offline_cached.py'
STUDENT_CONFIG = 'configs/mlfd/student_offline_mnist_cached.py'


def run_benchmark(joint_config=JOINT_CONFIG,
                  student_config=STUDENT_CONFIG,
                  teacher_checkpoints=None, data_roots=None, batch_size=64,
                  steps=10, warmup=2, samples_per_dataset=128, threads=1,
                  skip_rss=False, out='work_dirs/benchmark/benchmark.json',
                  seed=0, command=None, floor=None):
    """Benchmark the joint teacher and the MLFD student with and without the
    teacher-feature cache; write the report as JSON.

    Args:
        joint_config (str): a JointTeacher config.
        student_config (str): an MLFD student config of one of its datasets.
        teacher_checkpoints (dict, optional): teacher name -> checkpoint;
            teachers without a file get random weights.
        data_roots (dict, optional): dataset name -> data root.
        batch_size (int): samples per step.
        steps (int): timed steps per variant.
        warmup (int): untimed rounds first.
        samples_per_dataset (int): training samples of each dataset cached
            and used.
        threads (int): torch threads.
        skip_rss (bool): do not measure peak RSS.
        out (str): the JSON report.
        seed (int): seeds weights and batches.
        command (str, optional): the command line, recorded in the report.
        floor (dict, optional): also measure the project's plain training
            against a hand-written loop: :func:`training_floor`'s options,
            ``collates`` giving its variants (:func:`floor_variants`).

    Returns:
        dict: the report.
    """
    settings = dict(locals())
    started = time.perf_counter()
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    baseline_rss = rss_mb()
    # Teachers without a checkpoint file get random weights: timings do not
    # depend on them.
    cfg = Config.fromfile(joint_config)
    # a cached config's own cache: the variants set theirs; its loaders
    # then stay the online ones, whose datasets the variants read
    cfg.model.pop('feature_cache', None)
    cfg = complete_config(cfg, 'none')
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    joint_cfg, teacher_weights = joint_model_cfg(cfg,
                                                 teacher_checkpoints or {})
    print(f'building caches of {samples_per_dataset} training samples per '
          'dataset ...', flush=True)
    test_sets = joint_datasets(cfg, 'test', samples_per_dataset,
                               data_roots or {})
    train_sets = joint_datasets(cfg, 'train', samples_per_dataset,
                                data_roots or {})
    work = tempfile.mkdtemp(prefix='mlfd_benchmark_')
    roots = {d: osp.join(work, d) for d in ('float16', 'float32')}
    write_rate = {d: build_cache(joint_cfg, test_sets, r, d, seed)
                  for d, r in roots.items()}
    pooled_root = osp.join(work, 'float16_pool_min')
    build_cache(joint_cfg, test_sets, pooled_root, 'float16', seed,
                pool='min')

    student_cfg = _student_model_cfg(student_config)
    student_name = student_cfg['dataset']
    joint_output, joint_output_rates = build_joint_output_caches(
        joint_cfg, student_cfg, test_sets.get(student_name), work,
        ('float16', 'float32'), seed)
    variants = Variants(joint_cfg, student_cfg, roots['float16'], pooled_root,
                        train_sets, train_sets.get(student_name),
                        student_name, batch_size, seed,
                        joint_output=joint_output)
    print('timing steps ...', flush=True)
    builders = variants.builders()
    step_functions = {name: build() for name, build in builders.items()}
    cpu, wall = time_variants(step_functions, steps, warmup)
    del step_functions
    report = dict(
        command=command, settings=settings,
        environment=dict(
            torch=torch.__version__, python=platform.python_version(),
            threads=torch.get_num_threads(), cpus=os.cpu_count(),
            load_average=list(os.getloadavg()),
            teacher_weights=teacher_weights),
        targets=TARGETS)
    report['joint_step'], report['student_step'] = _step_sections(cpu, wall)
    report['student_step']['dataset'] = student_name
    report['student_step']['joint_output_write_samples_per_s'] = \
        joint_output_rates

    print('measuring the cache ...', flush=True)
    report['cache'] = _cache_section(roots, pooled_root, train_sets, wall,
                                     batch_size, seed, write_rate)
    if not skip_rss:
        print('measuring peak RSS (one forked child per variant) ...',
              flush=True)
        report['memory_method'] = (
            'each variant in a forked child: peak RSS (VmHWM, reset via '
            '/proc/self/clear_refs at the start) minus the child\'s RSS at '
            f'the start, over building the variant and {RSS_STEPS} '
            'training steps')
        report['baseline_rss_mb'] = baseline_rss
        report['peak_rss_mb'] = {k: peak_rss(b) for k, b in builders.items()}
    if floor is not None:
        print('training floor: plain training against a hand-written '
              'loop ...', flush=True)
        floor = dict(floor)
        report['training_floor'] = training_floor(
            variants=floor_variants(floor.pop('collates', ())), **floor)
    shutil.rmtree(work, ignore_errors=True)
    report['elapsed_s'] = time.perf_counter() - started
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    with open(out, 'w') as f:
        json.dump(report, f, indent=1)
    return report
