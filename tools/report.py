"""Write the report of a pipeline run (any seeds present):

    python tools/report.py work_dirs/offline [--config configs/pipelines/offline.py]

into ``WORK_DIR/report/index.html`` (figures beside it; opens offline).
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))
import mlfd_mm  # noqa: E402,F401  (compat fixes first)
from mlfd_mm.apis.report import report_pipeline_run  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('work_dir', help='a tools/run_pipeline.py work dir')
    parser.add_argument('--config', help='its pipeline config: stages it '
                        'runs but that are missing get named')
    parser.add_argument('--no-embeddings', action='store_true',
                        help='skip the t-SNE embeddings')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    index = report_pipeline_run(args.work_dir, args.config,
                                embeddings=not args.no_embeddings)
    print(f'report: {index}')


if __name__ == '__main__':
    main()
