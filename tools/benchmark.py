"""What the teacher-feature cache buys: training steps, memory and cache
throughput, side by side in one run (ratios, not absolute times: the
machines are noisy).

    python tools/benchmark.py                     # offline set, < 5 min
    python tools/benchmark.py --out work_dirs/benchmark/benchmark.json
    python tools/benchmark.py --cache-reads       # reads vs file count, ~1 min
    python tools/benchmark.py --training-floor    # plain training vs PyTorch

What each mode measures, how, and the figures: README, "Teacher-feature
cache and benchmark", "On a GPU" and "Data loading"; the library is
mlfd_mm/apis/benchmark/ (run.py, device.py, cache_reads.py,
training_floor.py).

    python tools/benchmark.py --device cuda        # T1 scale, fp32 and bf16
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..')))
from mlfd_mm.apis.benchmark import (JOINT_CONFIG, STUDENT_CONFIG,  # noqa
                                    format_cache_reads, format_report,
                                    format_stage_ratios,
                                    format_training_floor, run_benchmark,
                                    run_cache_reads, run_stage_ratios,
                                    run_training_floor)
from mlfd_mm.apis.benchmark.device import (  # noqa: E402
    PRECISIONS, VARIANTS, format_device_report, run_device_benchmark)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--joint-config', help=(
        f'default {JOINT_CONFIG}; with --device, '
        'configs/mlfd/joint_t1.py'))
    parser.add_argument('--student-config', help=(
        f'default {STUDENT_CONFIG}; with --device, '
        'configs/mlfd/student_t1_cifar100.py'))
    parser.add_argument(
        '--teacher-checkpoint', nargs='+', default=[], metavar='NAME=PATH',
        help='checkpoint of a teacher of the joint config (default: the '
        "config's; random weights where the file is missing)")
    parser.add_argument(
        '--data-root', nargs='+', default=[], metavar='NAME=PATH',
        help='data_root of a dataset (default: the configs\')')
    parser.add_argument('--batch-size', type=int,
                        help='default 64; with --device, 128')
    parser.add_argument('--steps', type=int, default=10,
                        help='timed steps per variant')
    parser.add_argument('--warmup', type=int,
                        help='untimed rounds; default 2; with --device, 5')
    parser.add_argument('--samples-per-dataset', type=int, default=128,
                        help='training samples of each dataset cached and '
                        'used')
    parser.add_argument('--threads', type=int, default=1,
                        help='torch threads (1: the machine is shared)')
    parser.add_argument('--skip-rss', action='store_true',
                        help='do not measure peak RSS')
    reads = parser.add_argument_group(
        'cache reads', "only the feature cache's reads per sample, at the "
        "demo's size and at T1's file count")
    reads.add_argument('--cache-reads', action='store_true')
    reads.add_argument('--reads', type=int, default=100000,
                       help='random reads per cache and round')
    reads.add_argument('--rounds', type=int, default=3, help='alternated')
    reads.add_argument('--with-old-layout', action='store_true', help=(
        'also read both caches as the previous layout did (one mmap per '
        'file; a tenth of the reads), for reference'))
    floor = parser.add_argument_group(
        'training floor', "the project's plain training against a "
        'hand-written PyTorch loop (wall time per sample)')
    floor.add_argument('--training-floor', action='store_true',
                       help='only this measurement')
    floor.add_argument('--skip-training-floor', action='store_true')
    floor.add_argument(
        '--floor-config', default='configs/teachers/offline_mnist_resnet18.py',
        help='a plain ImageClassifier config trained with SGD')
    floor.add_argument('--floor-data-root', default=None,
                       help="the floor config's training data root "
                       "(default: the config's)")
    floor.add_argument('--floor-epochs', type=int, default=3,
                       help='epochs per measurement, the first untimed')
    floor.add_argument('--floor-rounds', type=int, default=3,
                       help='measurements per variant, alternated')
    floor.add_argument(
        '--floor-collate', nargs='*', default=['pseudo_collate'],
        metavar='TYPE', help="also the project's training with each of "
        'these collate_fn types (default: the previous default, '
        'pseudo_collate)')
    stages = parser.add_argument_group(
        'stages', "a pipeline run's student stages against their teachers', "
        'rerun side by side (teacher, student, student, teacher)')
    stages.add_argument('--stages', metavar='SEED_DIR',
                        help='e.g. work_dirs/offline_cached/seed0')
    stages.add_argument('--stage-datasets', nargs='+', metavar='NAME')
    stages.add_argument('--stage-rounds', type=int, default=1)
    device = parser.add_argument_group(
        'device', 'training throughput on a device at T1 scale (synthetic '
        'batches; --joint-config/--student-config default to the T1 ones)')
    device.add_argument('--device', default=None,
                        help="'cuda' (or 'cuda:N'), or 'cpu' for a check")
    device.add_argument('--image-size', type=int, default=224)
    device.add_argument('--iters', type=int, default=20,
                        help='timed steps per variant and precision')
    device.add_argument('--variants', nargs='+', default=list(VARIANTS),
                        choices=VARIANTS)
    device.add_argument('--precisions', nargs='+', default=list(PRECISIONS),
                        choices=PRECISIONS)
    device.add_argument('--no-cudnn-benchmark', action='store_true')
    parser.add_argument('--out', default=None,
                        help='JSON report (default work_dirs/benchmark/'
                        'benchmark.json, or cache_reads.json)')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def name_path_pairs(items, flag):
    """``['NAME=PATH', ...]`` -> ``{NAME: PATH}``."""
    out = {}
    for item in items:
        key, sep, value = item.partition('=')
        if not sep:
            raise SystemExit(f'{flag} {item!r}: use NAME=PATH')
        out[key] = value
    return out


def main(argv=None):
    args = parse_args(argv)
    command = 'python tools/benchmark.py ' + ' '.join(
        argv if argv is not None else sys.argv[1:])
    if args.stages:
        try:
            report = run_stage_ratios(
                args.stages, args.stage_datasets, rounds=args.stage_rounds,
                out=args.out or 'work_dirs/benchmark/stages.json',
                command=command)
        except FileNotFoundError as err:  # a stage config that is not there
            raise SystemExit(f'error: {err}')
        print(format_stage_ratios(report))
        return report
    if args.device is not None:
        report = run_device_benchmark(
            device=args.device,
            joint_config=args.joint_config or 'configs/mlfd/joint_t1.py',
            student_config=args.student_config or
            'configs/mlfd/student_t1_cifar100.py',
            batch_size=args.batch_size or 128,
            image_size=args.image_size, iters=args.iters,
            warmup=5 if args.warmup is None else args.warmup,
            variants=args.variants, precisions=args.precisions,
            cudnn_benchmark=not args.no_cudnn_benchmark, seed=args.seed,
            out=args.out or 'work_dirs/benchmark/device.json',
            command=command)
        print(format_device_report(report))
        return report
    floor = dict(config=args.floor_config, data_root=args.floor_data_root,
                 batch_size=args.batch_size or 64,
                 epochs=args.floor_epochs,
                 rounds=args.floor_rounds, threads=args.threads,
                 seed=args.seed)
    if args.training_floor:
        report = run_training_floor(
            out=args.out or 'work_dirs/benchmark/training_floor.json',
            command=command, collates=args.floor_collate, **floor)
        print(format_training_floor(report))
        return report
    floor = None if args.skip_training_floor else dict(
        floor, collates=args.floor_collate)
    if args.cache_reads:
        report = run_cache_reads(
            reads=args.reads, rounds=args.rounds, seed=args.seed,
            old_layout=args.with_old_layout,
            out=args.out or 'work_dirs/benchmark/cache_reads.json',
            command=command)
        print(format_cache_reads(report))
        return report
    report = run_benchmark(
        joint_config=args.joint_config or JOINT_CONFIG,
        student_config=args.student_config or STUDENT_CONFIG,
        teacher_checkpoints=name_path_pairs(args.teacher_checkpoint,
                                            '--teacher-checkpoint'),
        data_roots=name_path_pairs(args.data_root, '--data-root'),
        batch_size=args.batch_size or 64, steps=args.steps,
        warmup=2 if args.warmup is None else args.warmup,
        samples_per_dataset=args.samples_per_dataset, threads=args.threads,
        skip_rss=args.skip_rss, seed=args.seed, command=command, floor=floor,
        out=args.out or 'work_dirs/benchmark/benchmark.json')
    print()
    print(format_report(report))
    return report


if __name__ == '__main__':
    main()
