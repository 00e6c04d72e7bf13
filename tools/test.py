"""Evaluate a checkpoint and print acc@1 / acc@5 (per dataset for joint models).

    python tools/test.py CONFIG CHECKPOINT [--out results.json|preds.pkl]
"""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..')))
import mlfd_mm  # noqa: E402,F401  (applies compat fixes before torchvision)
import torch  # noqa: E402
from mlfd_mm.compat import prepare_cpu_distributed  # noqa: E402
from mlfd_mm.config_checks import (check_clip_frames,  # noqa: E402
                                   check_data_roots)
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.dist import is_main_process  # noqa: E402
from mmengine.runner import Runner  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save logs')
    parser.add_argument(
        '--out', help='write the metrics (.json) or the predictions (.pkl)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, key=value pairs')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    if args.out and not args.out.endswith(('.json', '.pkl', '.pickle')):
        parser.error(f'--out {args.out}: use a .json (metrics) or .pkl '
                     '(predictions) file name')
    return args


def format_accuracy_table(metrics):
    """Render ``{'<group>/...top1': x, ...}`` as a plain-text table.

    Keys of mmpretrain's Accuracy (``accuracy/top1``) form the group 'all';
    per-dataset keys (``mnist/accuracy_top1``) form one row per dataset.
    """
    rows = {}
    for key, value in metrics.items():
        for topk, column in (('top1', 'acc@1'), ('top5', 'acc@5')):
            if key.endswith(topk):
                group = key.split('/')[0]
                group = 'all' if group == 'accuracy' else group
                rows.setdefault(group, {})[column] = value
    if not rows:
        return json.dumps(metrics, indent=2, default=str)
    lines = [f'{"dataset":<16} {"acc@1":>8} {"acc@5":>8}']
    for group, cols in rows.items():
        cells = [f'{cols[c]:8.2f}' if c in cols else f'{"-":>8}'
                 for c in ('acc@1', 'acc@5')]
        lines.append(f'{group:<16} ' + ' '.join(cells))
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(
            f'checkpoint file does not exist: {args.checkpoint!r}')
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    if args.out and args.out.endswith(('.pkl', '.pickle')):
        dump = dict(type='DumpResults', out_file_path=args.out)
        evaluators = cfg.test_evaluator
        if isinstance(evaluators, dict):
            evaluators = [evaluators]
        cfg.test_evaluator = list(evaluators) + [dump]
    check_data_roots(cfg, ['test_dataloader'])
    check_clip_frames(cfg, ['test_dataloader'])
    own_process_group = prepare_cpu_distributed(cfg, args.launcher)
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    if own_process_group:
        torch.distributed.barrier()  # see tools/train.py
        torch.distributed.destroy_process_group()
    if is_main_process():
        print(format_accuracy_table(metrics))
        if args.out and args.out.endswith('.json'):
            os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
            with open(args.out, 'w') as f:
                json.dump(metrics, f, indent=2, default=float)
    return metrics


if __name__ == '__main__':
    main()
