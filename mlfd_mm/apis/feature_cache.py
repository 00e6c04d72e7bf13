"""Cache the frozen teachers' features of a JointTeacher config.

Every teacher runs once over each dataset split with the deterministic
(test) pipeline; per (teacher, level) memory-mapped shards and a manifest are
written to ``model.feature_cache.root`` (or ``root``). Interrupted runs resume
after the last complete shard; a cache built from other teachers, options or
data is refused (:class:`StaleCacheError`) unless ``force``. Under torchrun
the shards are split across ranks.

A dry run needs no checkpoints and no data: a teacher whose checkpoint is
missing is built with random weights (shapes do not depend on weights), and a
dataset whose data root is missing takes its length from ``num_samples``
(else it is reported as unknown).
"""
import os
import os.path as osp
import resource
import sys
import time

import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

from ..atomic_files import atomic_write_json
from ..cache import DatasetSource, FeatureCacheWriter, \
    InsufficientDiskSpaceError
from ..cache.layout import FeatureLayout
from ..cache.writer import (check_disk_space, feature_sizes, format_bytes,
                            free_bytes, missing_shards, stored_shapes)
from ..config import complete_config, joint_output_splits
from ..cache.joint_outputs import (JointOutputCacheWriter, joint_identity,
                                   teacher_feature_sources)
from ..models.distillers.mlfd import joint_model_config
from .cache_sources import (SPLITS, CacheConfigError, build_dataset,
                            build_joint_teacher, build_online_student,
                            cache_options, data_present, is_student_config,
                            joint_output_options, split_datasets,
                            student_split_datasets)
from .stage_record import CACHE_TIMES


def _split_lengths(cfg, splits, pipeline, num_samples):
    """Each (split, dataset)'s length (None where unknown) and a dataset
    whose first sample can show the input size (None without data)."""
    lengths, probe_dataset = {}, None
    for split in splits:
        for name, dataset_cfg, _ in split_datasets(cfg, split, pipeline):
            length = num_samples.get(f'{split}.{name}', num_samples.get(name))
            if length is None and data_present(dataset_cfg):
                dataset = build_dataset(dataset_cfg)
                length = len(dataset)
                probe_dataset = probe_dataset or dataset
            lengths[(split, name)] = length
    return lengths, probe_dataset


def _print_layout(layouts, unpooled, dtype, names):
    """Stored shape and bytes per (teacher, level), and per sample."""
    layout = layouts[dtype]
    print(f'{"teacher":<20} {"level":<6} {"stored (C,H,W)":<16} '
          f'{"bytes/sample":>14}')
    for t, level, _, _ in layout.entries:
        c, h, w = layout.shapes[t][level]
        seg = layout.num_segments[t]
        shape = (f'{seg}x' if seg > 1 else '') + f'{c}x{h}x{w}'
        print(f'{names[t]:<20} l{level + 1:<5} {shape:<16} '
              f'{layout.level_bytes(t, level):>14,}')
    print(f'{"per sample":<44} {layout.bytes_per_sample:>14,}  (float32 '
          f'{layouts["float32"].bytes_per_sample:,}, float16 '
          f'{layouts["float16"].bytes_per_sample:,}; unpooled float32 '
          f'{unpooled.bytes_per_sample:,})')
    print()


def _print_split_sizes(lengths, splits, per_sample):
    """Samples and bytes per split and dataset; returns the total bytes and
    the datasets of unknown length."""
    print(f'{"split":<6} {"dataset":<20} {"samples":>10} {"bytes":>12}')
    total, unknown = 0, []
    for split in splits:
        split_total = split_samples = 0
        for (s, name), length in lengths.items():
            if s != split:
                continue
            if length is None:
                unknown.append(f'{split}.{name}')
                print(f'{split:<6} {name:<20} {"unknown":>10} {"-":>12}')
                continue
            split_samples += length
            split_total += length * per_sample
            print(f'{split:<6} {name:<20} {length:>10,} '
                  f'{format_bytes(length * per_sample):>12}')
        print(f'{split:<6} {"total":<20} {split_samples:>10,} '
              f'{format_bytes(split_total):>12}')
        total += split_total
    return total, unknown


def report_cache_size(cfg, config_name, splits, opts, joint, num_samples=None,
                      input_size=None):
    """Dry run: print what the cache would hold and check the disk.

    Args:
        cfg (Config): the JointTeacher config.
        config_name (str): its file, for the report.
        splits (Sequence[str]): the splits to cache.
        opts (dict): from :func:`cache_options`.
        joint (JointTeacher): from :func:`build_joint_teacher`.
        num_samples (dict, optional): ``'[split.]name' -> length`` for
            datasets whose data is absent.
        input_size (int, optional): the input side without data; default
            the teachers' test crop size.

    Returns:
        int: 0 if the cache fits on the disk, 2 if it does not.
    """
    teachers = list(joint.teachers)
    names = [t.name for t in teachers]
    lengths, probe_dataset = _split_lengths(cfg, splits, opts['pipeline'],
                                            num_samples or {})
    if probe_dataset is not None and not input_size:
        inputs = joint.data_preprocessor(
            pseudo_collate([probe_dataset[0]]), False)['inputs']
        source = f'first sample, {tuple(inputs.shape[-2:])} px'
    else:
        size = input_size or max(t.input_size for t in teachers)
        inputs = torch.zeros(teachers[0].num_segments, 3, size, size)
        source = f'{size}x{size} input'
    sizes = feature_sizes(teachers, inputs)
    segments = [t.num_segments for t in teachers]
    layouts = {
        dtype: FeatureLayout(names, stored_shapes(sizes, opts['pool'], names),
                             segments, dtype)
        for dtype in ('float32', 'float16')
    }
    unpooled = FeatureLayout(names, stored_shapes(sizes, None, names),
                             segments, 'float32')
    print(f'feature cache of {config_name} -> {opts["root"]}')
    print(f'dtype {opts["dtype"]}, pool {opts["pool"]}, shapes from '
          f'{source}')
    _print_layout(layouts, unpooled, opts['dtype'], names)
    total, unknown = _print_split_sizes(
        lengths, splits, layouts[opts['dtype']].bytes_per_sample)
    free, where = free_bytes(opts['root'])
    print(f'total {format_bytes(total)} ({total:,} bytes); free on the disk '
          f'of {where!r}: {format_bytes(free)}')
    if unknown:
        print(f'unknown lengths (data absent): {unknown}; give '
              '--num-samples SPLIT.NAME=N')
    try:
        check_disk_space(opts['root'], total)
    except InsufficientDiskSpaceError as err:
        print(f'REFUSED: {err}', file=sys.stderr)
        return 2
    print('fits: OK (nothing written: dry run)')
    return 0


def build_feature_cache(cfg, splits, opts, joint, force=False, batch_size=64,
                        num_workers=1, device=None, local_rank=0):
    """Write (or complete) the cache of ``splits``; under torchrun each rank
    writes its share of the shards.

    Args:
        cfg (Config): the JointTeacher config.
        splits (Sequence[str]): the splits to cache.
        opts (dict): from :func:`cache_options`.
        joint (JointTeacher): from :func:`build_joint_teacher`.
        force (bool): rebuild the splits (and everything when teachers or
            options changed) instead of refusing a stale cache.
        batch_size (int): samples per teacher forward.
        num_workers (int): dataloader workers.
        device (str, optional): default ``cuda:<local rank>`` when
            available, else 'cpu'.
        local_rank (int): used when the environment has no ``LOCAL_RANK``.

    Returns:
        int: 0.
    """
    _init_ranks()
    sources = _sources(splits, lambda split: split_datasets(
        cfg, split, opts['pipeline']))
    device = _device(device, local_rank)
    joint = joint.to(device).eval()
    writer = FeatureCacheWriter(
        joint.teachers, opts['root'], joint.data_preprocessor,
        dtype=opts['dtype'], pool=opts['pool'],
        shard_size=opts['shard_size'], batch_size=batch_size,
        num_workers=num_workers, device=device)
    return _write_ranked(writer, sources, splits, opts['root'], force)


def _init_ranks():
    if int(os.environ.get('WORLD_SIZE', '1')) > 1 and \
            not torch.distributed.is_initialized():
        # gloo: only barriers go through it; the features stay local.
        torch.distributed.init_process_group(backend='gloo')


def _device(device, local_rank):
    local_rank = int(os.environ.get('LOCAL_RANK', local_rank))
    return device or (f'cuda:{local_rank}'
                      if torch.cuda.is_available() else 'cpu')


def _sources(splits, datasets_of):
    """split -> [DatasetSource], from ``datasets_of(split)`` giving
    ``(name, dataset config, pipeline)``; a missing data root is named."""
    sources = {}
    for split in splits:
        sources[split] = []
        for name, dataset_cfg, pipeline in datasets_of(split):
            if not data_present(dataset_cfg):
                raise CacheConfigError(
                    f'dataset {name!r} (split {split}): data root '
                    f'{dataset_cfg.get("data_root")!r} does not exist')
            sources[split].append(
                DatasetSource(name, build_dataset(dataset_cfg), pipeline))
    return sources


def _write_ranked(writer, sources, splits, root, force):
    """Prepare the manifest (rank 0 first) and write this rank's shards;
    rank 0 checks that every shard is complete."""
    world = int(os.environ.get('WORLD_SIZE', '1'))
    rank = int(os.environ.get('RANK', '0'))

    def barrier():
        if world > 1:
            torch.distributed.barrier()

    # Rank 0 decides (and, with force, clears) before the others read.
    if rank == 0:
        manifest = writer.prepare(sources, force=force)
    barrier()
    if rank != 0:
        manifest = writer.prepare(sources, force=False)
    tasks = writer.shard_tasks(manifest, splits)
    print(f'feature cache {root}: {len(tasks)} shards of '
          f'{manifest["shard_size"]} samples, '
          f'{format_bytes(writer.bytes_needed(manifest, tasks))} to write '
          f'(rank {rank} of {world})')
    written = writer.write(sources, rank=rank, world_size=world)
    barrier()
    if rank == 0:
        missing = missing_shards(root, splits)
        if missing:
            raise RuntimeError(f'incomplete shards: {missing}')
        print(f'feature cache {root} complete for splits '
              f'{list(splits)} ({written} samples written by rank 0)')
    return 0


def build_joint_output_cache(cfg, splits, opts, force=False, batch_size=64,
                             num_workers=1, device=None, local_rank=0):
    """Write (or complete) the joint-output cache of an MLFD student config
    (see :mod:`mlfd_mm.cache.joint_outputs`): the online distiller's joint
    teacher runs once over the student's datasets of ``splits`` with the
    deterministic pipeline; where its own teacher-feature cache holds those
    samples (the cached pipeline), its teachers' features are read from it
    and only the fusion and the heads run. Under torchrun each rank writes
    its share.

    Args:
        cfg (Config): the student (MLFDDistiller) config, completed.
        splits, force, batch_size, num_workers, device, local_rank: see
            :func:`build_feature_cache`.
        opts (dict): from :func:`joint_output_options`.

    Returns:
        int: 0.
    """
    _init_ranks()
    distiller = build_online_student(cfg)
    sources = _sources(splits, lambda split: student_split_datasets(
        cfg, split, distiller.dataset_name))
    device = _device(device, local_rank)
    distiller = distiller.to(device).eval()
    teacher = distiller.teacher
    sources, lines = teacher_feature_sources(distiller, sources)
    for line in lines:
        print(f'joint-output cache {opts["root"]}: {line}')
    identity = joint_identity(joint_model_config(cfg.model.teacher.config),
                              cfg.model.teacher.checkpoint,
                              distiller.dataset_name)
    identity.update(dataset_names=list(teacher.dataset_names),
                    level_channels=list(teacher.level_channels),
                    num_classes=[int(k) for k in teacher.num_classes])
    writer = JointOutputCacheWriter(
        distiller, opts['root'], identity, dtype=opts['dtype'],
        shard_size=opts['shard_size'], batch_size=batch_size,
        num_workers=num_workers, device=device)
    return _write_ranked(writer, sources, splits, opts['root'], force)


@torch.no_grad()  # restored on return: callers (tests) keep their grad mode
def cache_features(config, splits=None, root=None, dtype=None, pool=None,
                   shard_size=None, dry_run=False, force=False,
                   batch_size=64, num_workers=1, device=None,
                   num_samples=None, input_size=None, cfg_options=None,
                   local_rank=0):
    """Build (or, with ``dry_run``, size) the feature cache of a JointTeacher
    config, or the joint-output cache of an MLFD student config
    (``model.joint_output_cache``); what ``tools/cache_features.py`` does.

    Args:
        config (str): the JointTeacher or MLFDDistiller config file.
        splits (Sequence[str], optional): the splits to cache. Defaults to
            all for a JointTeacher; for a student, those of its
            ``model.joint_output_cache.splits`` (by default 'train').
        root, dtype, pool, shard_size: see :func:`cache_options`.
        dry_run (bool): print the sizes and check the disk, write nothing.
        force, batch_size, num_workers, device, local_rank: see
            :func:`build_feature_cache`.
        num_samples, input_size: see :func:`report_cache_size`.
        cfg_options (dict, optional): config overrides.

    Returns:
        int: 0 on success, 2 when the cache does not fit on the disk.

    Raises:
        CacheConfigError: the config cannot be cached as it is.
        StaleCacheError: the cache holds other teachers, options or data
            (and not ``force``).
    """
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    # A dry run sizes the cache without the teachers' checkpoints.
    complete_config(cfg, 'none' if dry_run else 'error')
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    if is_student_config(cfg):
        if dry_run or pool:
            raise CacheConfigError(
                f'{config}: --dry-run and --pool apply to teacher-feature '
                'caches (JointTeacher configs), not to the joint-output '
                'cache of a student config')
        opts = joint_output_options(cfg, config, root=root, dtype=dtype,
                                    shard_size=shard_size)
        splits = list(splits or joint_output_splits(
            cfg.model.get('joint_output_cache')))
        return build_joint_output_cache(
            cfg, splits, opts, force=force, batch_size=batch_size,
            num_workers=num_workers, device=device, local_rank=local_rank)
    splits = list(splits or SPLITS)
    opts = cache_options(cfg, config, root=root, dtype=dtype, pool=pool,
                         shard_size=shard_size, dry_run=dry_run)
    joint = build_joint_teacher(cfg, dry_run)
    if dry_run:
        return report_cache_size(cfg, config, splits, opts, joint,
                                 num_samples, input_size)
    try:
        return build_feature_cache(
            cfg, splits, opts, joint, force=force, batch_size=batch_size,
            num_workers=num_workers, device=device, local_rank=local_rank)
    except InsufficientDiskSpaceError as err:
        print(f'REFUSED: {err}', file=sys.stderr)
        return 2


def _process_cpu_s():
    """User + system CPU of this process and of the children it waited
    for (the cache builder's loader workers)."""
    return sum(usage.ru_utime + usage.ru_stime for usage in (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN)))


def build_cache_before_training(config, work_dir, force=False,
                                cfg_options=None, num_workers=1):
    """Build (or complete) the cache that ``config`` trains from, in the
    training process, before its Runner is built: ``tools/train.py
    --build-cache``, which the pipeline's cached stages use. Running it
    here rather than as ``tools/cache_features.py`` saves a second process
    start-up (imports, model and data set-up: about 10 s of CPU per stage
    on the offline set). Writes the build's wall and CPU time to
    ``<work_dir>/cache_times.json``, which the stage record reports apart.

    Returns:
        dict: ``wall_time_s`` and ``cpu_time_s`` of the build.

    Raises:
        CacheConfigError, StaleCacheError: as :func:`cache_features`.
        InsufficientDiskSpaceError: the cache does not fit on the disk.
    """
    start, cpu = time.time(), _process_cpu_s()
    if cache_features(config, force=force, cfg_options=cfg_options,
                      num_workers=num_workers) != 0:
        raise InsufficientDiskSpaceError(
            f'{config}: the feature cache does not fit on the disk (see '
            'the message above)')
    times = dict(wall_time_s=time.time() - start,
                 cpu_time_s=_process_cpu_s() - cpu)
    os.makedirs(work_dir, exist_ok=True)
    atomic_write_json(osp.join(work_dir, CACHE_TIMES), times)
    return times
