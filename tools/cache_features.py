"""Cache the frozen teachers' features of a JointTeacher config.

Runs every teacher once over each dataset split with the deterministic
(test) pipeline and writes per (teacher, level) memory-mapped shards and a
manifest to ``model.feature_cache.root`` (or ``--root``). Interrupted runs
resume after the last complete shard; a cache built from other teachers,
options or data is refused, with what changed, unless ``--force``.

    python tools/cache_features.py configs/mlfd/joint_offline_cached.py
    python tools/cache_features.py CONFIG --dry-run            # sizes only
    python tools/cache_features.py configs/mlfd/joint_t1.py --dry-run \\
        --root /data/cache/t1 --num-samples train.cifar100=50000 \\
        train.tiny_imagenet=100000 train.imagenet_sketch=50889 --split train
    torchrun --nproc_per_node 4 tools/cache_features.py CONFIG  # shards
                                                   # split across ranks

``--dry-run`` needs no checkpoints and no data: a teacher whose checkpoint
is missing is built with random weights (shapes do not depend on weights);
a dataset whose data root is missing takes its length from
``--num-samples [SPLIT.]NAME=N`` (else it is reported as unknown). It exits
with status 2 when the cache would not fit on the disk.
"""
import argparse
import copy
import os
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..')))
import mlfd_mm  # noqa: E402,F401  (applies compat fixes before torchvision)
import torch  # noqa: E402
from mmengine.config import Config, ConfigDict, DictAction  # noqa: E402
from mmengine.logging import print_log  # noqa: E402
from mmengine.registry import DATASETS, MODELS, init_default_scope  # noqa
from mmengine.dataset import pseudo_collate  # noqa: E402

from mlfd_mm.cache import (DatasetSource, FeatureCacheWriter,  # noqa: E402
                           InsufficientDiskSpaceError, StaleCacheError,
                           normalize_pool)
from mlfd_mm.cache.layout import FeatureLayout  # noqa: E402
from mlfd_mm.cache.manifest import load_manifest  # noqa: E402
from mlfd_mm.cache.writer import (DEFAULT_SHARD_SIZE,  # noqa: E402
                                  check_disk_space, feature_sizes,
                                  format_bytes, free_bytes, missing_shards,
                                  stored_shapes)
from mlfd_mm.datasets.multi_dataset import resolve_dataset_config  # noqa

SPLITS = ('train', 'val', 'test')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Cache the frozen teachers\' features of a JointTeacher '
        'config')
    parser.add_argument('config', help='JointTeacher config file')
    parser.add_argument('--split', nargs='+', default=list(SPLITS),
                        choices=SPLITS, help='splits to cache (default: all)')
    parser.add_argument('--dtype', choices=('float16', 'float32'),
                        help='storage dtype (default: feature_cache.dtype, '
                        'else float16)')
    parser.add_argument(
        '--pool', nargs='+', metavar='SPEC',
        help="spatial pooling: 'none', 'min', or LEVEL=SIZE pairs such as "
        'l1=7 l2=7 (default: feature_cache.pool). The model must be '
        'configured with the same pooling to train from the cache')
    parser.add_argument('--root', help='cache directory (default: '
                        'model.feature_cache.root of the config)')
    parser.add_argument('--dry-run', action='store_true',
                        help='print the sizes and check the disk, write '
                        'nothing')
    parser.add_argument('--force', action='store_true',
                        help='rebuild the requested splits (and everything '
                        'when teachers or options changed)')
    parser.add_argument('--shard-size', type=int,
                        help='samples per shard (default: the existing '
                        f'cache\'s, else {DEFAULT_SHARD_SIZE})')
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--num-workers', type=int, default=1)
    parser.add_argument('--device', help='default: cuda:<local rank> when '
                        'available, else cpu')
    parser.add_argument(
        '--num-samples', nargs='+', default=[], metavar='[SPLIT.]NAME=N',
        help='dry run: dataset lengths to use when the data is absent')
    parser.add_argument('--input-size', type=int,
                        help='dry run without data: input side (default: '
                        'the teachers\' test crop size)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value pairs')
    parser.add_argument('--launcher', choices=['none', 'pytorch'],
                        default='none', help='set by torchrun users; the '
                        'WORLD_SIZE environment variable decides anyway')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser.parse_args(argv)


# ----------------------------------------------------------------------
# config -> teachers, options, datasets
# ----------------------------------------------------------------------
def _plain(value):
    return value.to_dict() if isinstance(value, ConfigDict) else copy.deepcopy(
        value)


def parse_pool(values):
    if values is None:
        return None
    if values in (['none'], ['None']):
        return {}
    if values == ['min']:
        return 'min'
    spec = {}
    for item in values:
        key, sep, size = item.partition('=')
        if not sep:
            raise SystemExit(f'--pool {item!r}: use min, none or LEVEL=SIZE '
                             '(e.g. l1=7 or l1=7x7)')
        hw = [int(s) for s in size.lower().split('x')]
        spec[key] = hw[0] if len(hw) == 1 else hw
    return spec


def cache_options(cfg: Config, args) -> dict:
    """root, dtype, pool, shard_size and pipeline from the config and the
    command line (the command line wins)."""
    model = cfg.get('model') or {}
    if model.get('type') != 'JointTeacher':
        raise SystemExit(f'{args.config}: model.type is {model.get("type")!r}'
                         '; tools/cache_features.py caches the teachers of a '
                         'JointTeacher config')
    config_opts = _plain(model.get('feature_cache') or {})
    root = args.root or config_opts.get('root')
    if not root:
        raise SystemExit(
            f'{args.config}: no cache directory; set '
            'model.feature_cache=dict(root=...) in the config or pass --root')
    pool = parse_pool(args.pool)
    if pool is None:
        pool = config_opts.get('pool')
    elif normalize_pool(pool) != normalize_pool(config_opts.get('pool')) \
            and not args.dry_run:
        print_log(
            f'--pool {pool} differs from model.feature_cache.pool '
            f'{config_opts.get("pool")}: a model trained with this config '
            'will refuse this cache', logger='current', level=30)
    shard_size = args.shard_size or config_opts.get('shard_size')
    if shard_size is None:
        existing = load_manifest(root) if osp.isdir(root) else None
        shard_size = existing['shard_size'] if existing else \
            DEFAULT_SHARD_SIZE
    return dict(root=root, dtype=args.dtype or config_opts.get(
        'dtype', 'float16'), pool=normalize_pool(pool),
                shard_size=int(shard_size),
                pipeline=config_opts.get('pipeline'))


def build_joint_teacher(cfg: Config, dry_run: bool):
    """The JointTeacher of the config without its feature cache (the
    teachers must run). In a dry run, missing checkpoints are dropped."""
    model_cfg = _plain(cfg.model)
    model_cfg.pop('feature_cache', None)
    for i, teacher in enumerate(model_cfg.get('teachers') or []):
        path = teacher.get('checkpoint')
        if dry_run and path and '://' not in path and not osp.isfile(path):
            print(f'dry run: teacher {teacher.get("name", i)!r}: checkpoint '
                  f'{path} not found, shapes from random weights')
            teacher['checkpoint'] = None
    return MODELS.build(model_cfg)


def _loader_dataset(cfg: Config, split: str) -> dict:
    loader = cfg.get(f'{split}_dataloader')
    if not loader or 'dataset' not in loader:
        raise SystemExit(f'the config has no {split}_dataloader.dataset')
    dataset = _plain(loader['dataset'])
    if dataset.get('type') == 'CachedFeatureDataset':  # a cached config
        dataset = dataset['dataset']
    if dataset.get('type') != 'MultiDatasetWrapper':
        raise SystemExit(
            f'{split}_dataloader.dataset is {dataset.get("type")!r}; the '
            'cache needs the MultiDatasetWrapper of a JointTeacher config')
    return dataset


def deterministic_pipelines(cfg: Config) -> dict:
    """Each dataset's test pipeline (else its val pipeline), by name."""
    found = {}
    for split in ('val', 'test'):
        loader = cfg.get(f'{split}_dataloader')
        if not loader:
            continue
        wrapper = _loader_dataset(cfg, split)
        for name, entry in zip(wrapper['names'], wrapper['datasets']):
            found[name] = resolve_dataset_config(entry).get('pipeline')
    return found


def split_datasets(cfg: Config, split: str, pipeline=None) -> list:
    """(name, dataset config with the deterministic pipeline, pipeline) of
    each dataset of a split."""
    wrapper = _loader_dataset(cfg, split)
    pipelines = deterministic_pipelines(cfg) if pipeline is None else {}
    out = []
    for name, entry in zip(wrapper['names'], wrapper['datasets']):
        dataset = resolve_dataset_config(entry)
        chosen = pipeline if pipeline is not None else pipelines.get(name)
        if not chosen:
            raise SystemExit(
                f'dataset {name!r}: no test/val pipeline to cache with; set '
                'model.feature_cache.pipeline')
        dataset['pipeline'] = chosen
        out.append((name, dataset, chosen))
    return out


def data_present(dataset_cfg: dict) -> bool:
    root = dataset_cfg.get('data_root')
    return not root or osp.isdir(root)


def build_dataset(dataset_cfg: dict):
    dataset = DATASETS.build(copy.deepcopy(dataset_cfg))
    if hasattr(dataset, 'full_init'):
        dataset.full_init()
    return dataset


def parse_num_samples(items) -> dict:
    out = {}
    for item in items:
        key, sep, value = item.partition('=')
        if not sep or not value.replace(',', '').replace('_', '').isdigit():
            raise SystemExit(f'--num-samples {item!r}: use [SPLIT.]NAME=N')
        out[key] = int(value.replace(',', '').replace('_', ''))
    return out


# ----------------------------------------------------------------------
# dry run
# ----------------------------------------------------------------------
def dry_run(cfg, args, opts, joint) -> int:
    teachers = list(joint.teachers)
    names = [t.name for t in teachers]
    counts = parse_num_samples(args.num_samples)
    lengths, probe_dataset = {}, None
    for split in args.split:
        for name, dataset_cfg, _ in split_datasets(cfg, split,
                                                   opts['pipeline']):
            length = counts.get(f'{split}.{name}', counts.get(name))
            if length is None and data_present(dataset_cfg):
                dataset = build_dataset(dataset_cfg)
                length = len(dataset)
                probe_dataset = probe_dataset or dataset
            lengths[(split, name)] = length

    if probe_dataset is not None and not args.input_size:
        inputs = joint.data_preprocessor(
            pseudo_collate([probe_dataset[0]]), False)['inputs']
        source = f'first sample, {tuple(inputs.shape[-2:])} px'
    else:
        size = args.input_size or max(t.input_size for t in teachers)
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
    layout = layouts[opts['dtype']]

    print(f'feature cache of {args.config} -> {opts["root"]}')
    print(f'dtype {opts["dtype"]}, pool {opts["pool"]}, shapes from '
          f'{source}')
    print(f'{"teacher":<20} {"level":<6} {"stored (C,H,W)":<16} '
          f'{"bytes/sample":>14}')
    for t, level, _, _ in layout.entries:
        c, h, w = layout.shapes[t][level]
        seg = layout.num_segments[t]
        shape = (f'{seg}x' if seg > 1 else '') + f'{c}x{h}x{w}'
        print(f'{names[t]:<20} l{level + 1:<5} {shape:<16} '
              f'{layout.level_bytes(t, level):>14,}')
    per_sample = layout.bytes_per_sample
    print(f'{"per sample":<44} {per_sample:>14,}  (float32 '
          f'{layouts["float32"].bytes_per_sample:,}, float16 '
          f'{layouts["float16"].bytes_per_sample:,}; unpooled float32 '
          f'{unpooled.bytes_per_sample:,})')
    print()
    print(f'{"split":<6} {"dataset":<20} {"samples":>10} {"bytes":>12}')
    total, unknown = 0, []
    for split in args.split:
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


# ----------------------------------------------------------------------
# build
# ----------------------------------------------------------------------
def _dist_info():
    world = int(os.environ.get('WORLD_SIZE', '1'))
    rank = int(os.environ.get('RANK', '0'))
    return rank, world


def build(cfg, args, opts, joint) -> int:
    rank, world = _dist_info()
    if world > 1 and not torch.distributed.is_initialized():
        # gloo: only barriers go through it; the features stay local.
        torch.distributed.init_process_group(backend='gloo')
    sources = {}
    for split in args.split:
        sources[split] = []
        for name, dataset_cfg, pipeline in split_datasets(
                cfg, split, opts['pipeline']):
            if not data_present(dataset_cfg):
                raise SystemExit(
                    f'dataset {name!r} (split {split}): data root '
                    f'{dataset_cfg.get("data_root")!r} does not exist')
            sources[split].append(
                DatasetSource(name, build_dataset(dataset_cfg), pipeline))
    local_rank = int(os.environ.get('LOCAL_RANK', args.local_rank))
    device = args.device or (f'cuda:{local_rank}'
                             if torch.cuda.is_available() else 'cpu')
    joint = joint.to(device).eval()
    writer = FeatureCacheWriter(
        joint.teachers, opts['root'], joint.data_preprocessor,
        dtype=opts['dtype'], pool=opts['pool'],
        shard_size=opts['shard_size'], batch_size=args.batch_size,
        num_workers=args.num_workers, device=device)

    def barrier():
        if world > 1:
            torch.distributed.barrier()

    try:
        if rank == 0:
            manifest = writer.prepare(sources, force=args.force)
        barrier()
        if rank != 0:
            manifest = writer.prepare(sources, force=False)
    except StaleCacheError as err:
        raise SystemExit(f'error: {err}')
    tasks = writer.shard_tasks(manifest, args.split)
    print(f'feature cache {opts["root"]}: {len(tasks)} shards of '
          f'{manifest["shard_size"]} samples, '
          f'{format_bytes(writer.bytes_needed(manifest, tasks))} to write '
          f'(rank {rank} of {world})')
    written = writer.write(sources, rank=rank, world_size=world)
    barrier()
    if rank == 0:
        missing = missing_shards(opts['root'], args.split)
        if missing:
            raise SystemExit(f'incomplete shards: {missing}')
        print(f'feature cache {opts["root"]} complete for splits '
              f'{args.split} ({written} samples written by rank 0)')
    return 0


@torch.no_grad()  # restored on return: callers (tests) keep their grad mode
def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    opts = cache_options(cfg, args)
    joint = build_joint_teacher(cfg, args.dry_run)
    if args.dry_run:
        return dry_run(cfg, args, opts, joint)
    try:
        return build(cfg, args, opts, joint)
    except InsufficientDiskSpaceError as err:
        print(f'REFUSED: {err}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
