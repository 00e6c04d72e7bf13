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
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..')))
from mlfd_mm.apis.cache_sources import SPLITS, CacheConfigError  # noqa: E402
from mlfd_mm.apis.feature_cache import cache_features  # noqa: E402
from mlfd_mm.cache import StaleCacheError  # noqa: E402
from mlfd_mm.cache.writer import DEFAULT_SHARD_SIZE  # noqa: E402
from mmengine.config import DictAction  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='JointTeacher config file')
    parser.add_argument('--split', nargs='+', choices=SPLITS, help=(
        "splits to cache (default: all of a joint teacher's; a student's "
        'model.joint_output_cache.splits, by default train)'))
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


def parse_pool(values):
    """``--pool`` -> None (the config's), {} (none), 'min' or
    ``{level: size or [h, w]}``."""
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


def parse_num_samples(items):
    """``--num-samples [SPLIT.]NAME=N ...`` -> ``{'[split.]name': N}``."""
    out = {}
    for item in items:
        key, sep, value = item.partition('=')
        if not sep or not value.replace(',', '').replace('_', '').isdigit():
            raise SystemExit(f'--num-samples {item!r}: use [SPLIT.]NAME=N')
        out[key] = int(value.replace(',', '').replace('_', ''))
    return out


def main(argv=None):
    args = parse_args(argv)
    try:
        return cache_features(
            args.config, args.split, root=args.root, dtype=args.dtype,
            pool=parse_pool(args.pool), shard_size=args.shard_size,
            dry_run=args.dry_run, force=args.force,
            batch_size=args.batch_size, num_workers=args.num_workers,
            device=args.device,
            num_samples=parse_num_samples(args.num_samples),
            input_size=args.input_size, cfg_options=args.cfg_options,
            local_rank=args.local_rank)
    except CacheConfigError as err:
        raise SystemExit(str(err))
    except StaleCacheError as err:
        raise SystemExit(f'error: {err}')


if __name__ == '__main__':
    sys.exit(main())
