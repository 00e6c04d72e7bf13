"""AMTML-KD's teacher weights mu as evidence, from a finished run:

    python tools/teacher_weights.py RUN/config.py RUN/best.pth [--split test]

prints per teacher the mean mu, its spread across instances, the teacher's
accuracy and the correlation of mu with the teacher's correctness; how
often the highest-mu teacher is right against a teacher drawn at random;
and mu per training epoch (RUN/teacher_weights.json, when logged).
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))
import mlfd_mm  # noqa: E402,F401  (compat fixes first)
from mlfd_mm.atomic_files import atomic_write_json  # noqa: E402
from mlfd_mm.report.teacher_weights import (  # noqa: E402
    SPLITS, format_teacher_weight_evidence, teacher_weight_evidence)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help="the run's config (a pipeline "
                        "stage's config.py)")
    parser.add_argument('checkpoint', help="the run's checkpoint")
    parser.add_argument('--split', choices=SPLITS, default='test')
    parser.add_argument('--work-dir', help='where teacher_weights.json is '
                        "(default: the checkpoint's directory)")
    parser.add_argument('--out', help='also write the figures as JSON')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        result = teacher_weight_evidence(args.config, args.checkpoint,
                                         args.split, args.work_dir)
    except (ValueError, FileNotFoundError) as err:
        sys.exit(f'error: {err}')
    print(format_teacher_weight_evidence(result))
    if args.out:
        atomic_write_json(args.out, result)


if __name__ == '__main__':
    main()
