"""Run MLFD end to end: stage 1 (dataset-specific teachers) -> stage 2 (joint
teacher) -> stage 3 (students), passing each stage's best checkpoint on.

    python tools/run_pipeline.py configs/pipelines/offline.py [--seeds 0 1 2]

Each stage trains under ``<work_dir>/seed<k>/<stage>``; finished stages are
skipped (unless their resolved config or inputs changed: then they and the
stages after them run again), killed ones resume; students are exported as
stock models and ``<work_dir>/results.md`` holds the paper's table. One run
at a time owns a work dir (``<work_dir>/.lock``); stopping the pipeline
(Ctrl-C, kill) stops its stage's training too. The pipeline config's keys
are described in :mod:`mlfd_mm.apis.pipeline`.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..')))
from mlfd_mm.apis import run_pipeline  # noqa: E402
from mlfd_mm.apis.dataset_converters import MissingDatasetError  # noqa: E402
from mlfd_mm.apis.work_dir_lock import WorkDirLocked  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Run the MLFD pipeline')
    parser.add_argument('config', help='pipeline config (configs/pipelines/)')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0])
    parser.add_argument('--work-dir', help='default: work_dirs/<name>')
    parser.add_argument(
        '--cfg-options', nargs='+', default=[],
        help='passed to tools/train.py of every stage')
    parser.add_argument('--no-report', action='store_true',
                        help='skip WORK_DIR/report/ (figures, embeddings)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        return run_pipeline(args.config, seeds=args.seeds,
                            work_dir=args.work_dir,
                            cfg_options=args.cfg_options,
                            report=not args.no_report)
    except (WorkDirLocked,  # another run owns the work dir
            MissingDatasetError) as exc:  # checked before any stage
        sys.exit(f'error: {exc}')


if __name__ == '__main__':
    main()
