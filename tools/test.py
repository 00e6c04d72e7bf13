"""Evaluate a checkpoint and print acc@1 / acc@5 (per dataset for joint models).

    python tools/test.py CONFIG CHECKPOINT [--out results.json|preds.pkl]
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..')))
import mlfd_mm  # noqa: E402,F401  (applies compat fixes before torchvision)
from mlfd_mm.apis.runner import (check_run_checkpoint,  # noqa: E402
                                 close_process_group,
                                 format_accuracy_table, load_config,
                                 parse_run_args, prepare_run, write_metrics)
from mlfd_mm.checkpoint import trusted_checkpoints  # noqa: E402
from mmengine.dist import is_main_process  # noqa: E402
from mmengine.runner import Runner  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save logs')
    parser.add_argument(
        '--out', help='write the metrics (.json) or the predictions (.pkl)')
    args = parse_run_args(parser, argv)
    if args.out and not args.out.endswith(('.json', '.pkl', '.pickle')):
        parser.error(f'--out {args.out}: use a .json (metrics) or .pkl '
                     '(predictions) file name')
    return args


def main(argv=None):
    args = parse_args(argv)
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(
            f'checkpoint file does not exist: {args.checkpoint!r}')
    # The checkpoint under test holds its frozen teachers' weights.
    cfg = load_config(args.config, args.cfg_options, args.launcher,
                      args.work_dir, missing_checkpoints='none')
    cfg.load_from = args.checkpoint
    if args.out and args.out.endswith(('.pkl', '.pickle')):
        dump = dict(type='DumpResults', out_file_path=args.out)
        evaluators = cfg.test_evaluator
        if isinstance(evaluators, dict):
            evaluators = [evaluators]
        cfg.test_evaluator = list(evaluators) + [dump]
    own_process_group = prepare_run(cfg, ['test_dataloader'])
    with trusted_checkpoints(*args.trust_checkpoint):
        runner = Runner.from_cfg(cfg)
        # mmengine would load what fits and test a partly random model.
        check_run_checkpoint(runner, cfg, args.config, testing=True)
        metrics = runner.test()
    close_process_group(own_process_group)
    if is_main_process():
        print(format_accuracy_table(metrics))
        if args.out and args.out.endswith('.json'):
            write_metrics(metrics, args.out)
    return metrics


if __name__ == '__main__':
    main()
