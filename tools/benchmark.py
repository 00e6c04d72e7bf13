"""What the teacher-feature cache buys: training steps, memory and cache
throughput, side by side in one run (ratios, not absolute times: the
machines are noisy).

    python tools/benchmark.py                     # offline set, < 5 min
    python tools/benchmark.py --out work_dirs/benchmark/benchmark.json
    python tools/benchmark.py --cache-reads       # reads vs file count, ~1 min
    python tools/benchmark.py --training-floor    # plain training vs PyTorch

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

``--device cuda`` measures instead the training throughput on a GPU at
T1 scale: img/s and peak GPU memory of the plain student, the MLFD student
(joint teacher online / outputs cached) and the joint teacher (teachers
online / maps cached), each in fp32 and bf16 autocast, on synthetic 224 px
batches (see mlfd_mm/apis/benchmark/device.py). ``--device cpu --batch-size
2 --image-size 64 --iters 2`` runs the same code on the CPU (a check, not a
measurement).

``--cache-reads`` measures only the cache's random-order reads per sample
and peak RSS, at the demo's size and at T1's file count, side by side (two
synthetic caches with tiny maps; see mlfd_mm/apis/benchmark/cache_reads.py).

The run ends with the project's plain training (mmengine's Runner and the
config's own loader, ``--floor-config``) against a hand-written PyTorch
loop on the same model, data, batch and worker count (the floor): wall time
per sample over whole epochs, alternated in forked children (see
mlfd_mm/apis/benchmark/training_floor.py); ``--training-floor`` runs only
that.

Teachers whose checkpoint file is missing get random weights (timings do
not depend on weights); the JSON says which. A small cache of the first
``--samples-per-dataset`` training samples of each dataset is built in a
temporary folder first.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..')))
from mlfd_mm.apis.benchmark import (format_cache_reads, format_report,  # noqa
                                    format_training_floor, run_benchmark,
                                    run_cache_reads, run_training_floor)
from mlfd_mm.apis.benchmark.device import (  # noqa: E402
    PRECISIONS, VARIANTS, format_device_report, run_device_benchmark)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--joint-config', help=(
        'default configs/mlfd/joint_offline.py; with --device, '
        'configs/mlfd/joint_t1.py'))
    parser.add_argument('--student-config', help=(
        'default configs/mlfd/student_offline_mnist.py; with --device, '
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
        joint_config=args.joint_config or 'configs/mlfd/joint_offline.py',
        student_config=args.student_config or
        'configs/mlfd/student_offline_mnist.py',
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
