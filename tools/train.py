"""Train a model from a config: the stock mmpretrain/mmaction2 entry point,
with the mlfd_mm plugin imported and CPU multi-process training fixed.

    python tools/train.py configs/mlfd/joint_offline.py
    torchrun --nproc_per_node 2 tools/train.py CONFIG --launcher pytorch
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..')))
import mlfd_mm  # noqa: E402,F401  (applies compat fixes before torchvision)
from mlfd_mm.apis.runner import (check_run_checkpoint,  # noqa: E402
                                 close_process_group,
                                 evaluate_best_checkpoint,
                                 link_best_checkpoint, load_config,
                                 parse_run_args, prepare_run)
from mlfd_mm.apis.device_training import (  # noqa: E402
    amp_optim_wrapper, channels_last_on_gpu, copy_batches_without_waiting,
    defer_log_reads_on_gpu, pin_loaders_on_gpu)
from mlfd_mm.apis.cache_sources import CacheConfigError  # noqa: E402
from mlfd_mm.apis.feature_cache import (  # noqa: E402
    build_cache_before_training)
from mlfd_mm.cache import StaleCacheError  # noqa: E402
from mlfd_mm.checkpoint import trusted_checkpoints  # noqa: E402
from mmengine.dist import is_main_process  # noqa: E402
from mmengine.registry import RUNNERS  # noqa: E402
from mmengine.runner import Runner  # noqa: E402


# On/off switches that merge_args folds into the config.
_SWITCHES = (
    ('--amp', 'mixed-precision training: bf16 autocast without loss '
     'scaling on a GPU with bf16, else fp16 with dynamic loss scaling; '
     'needs a CUDA device'),
    ('--channels-last', 'on a GPU, NHWC weights for a stock model (the '
     "project's distillers and joint teachers are NHWC on CUDA anyway)"),
    ('--no-validate', 'do not evaluate checkpoints during training'),
    ('--auto-scale-lr', 'scale the learning rate by the actual batch size'),
    ('--no-pin-memory', 'set pin_memory=False in every dataloader'),
    ('--no-persistent-workers',
     'set persistent_workers=False in every dataloader'),
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from the given checkpoint; without a path, from the '
        'latest checkpoint in the work dir')
    for flag, help_text in _SWITCHES:
        parser.add_argument(flag, action='store_true', help=help_text)
    parser.add_argument(
        '--build-cache', nargs='?', const='resume',
        choices=('resume', 'force'),
        help='first build (or complete) the feature cache the config trains '
        'from, in this process, as tools/cache_features.py would (`force`: '
        'rebuild it); its time goes to <work_dir>/cache_times.json')
    parser.add_argument(
        '--test-best', metavar='OUT_JSON',
        help='after training, test the best checkpoint (the last one when '
        'there is no best) in this process and write its metrics here')
    return parse_run_args(parser, argv)


def merge_args(cfg, args):
    """Fold the training-only arguments into the config."""
    if args.amp:
        cfg.optim_wrapper = amp_optim_wrapper(cfg.optim_wrapper)
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise FileNotFoundError(
                f'--resume {args.resume}: checkpoint file does not exist')
        cfg.resume = True
        cfg.load_from = args.resume
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    if args.auto_scale_lr:
        cfg.auto_scale_lr = dict(cfg.get('auto_scale_lr') or {},
                                 enable=True)
    if not args.no_pin_memory:
        pin_loaders_on_gpu(cfg)
    defer_log_reads_on_gpu(cfg)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(key)
        if not loader:
            continue
        if args.no_pin_memory:
            loader['pin_memory'] = False
        if args.no_persistent_workers:
            loader['persistent_workers'] = False
    return cfg


def main(argv=None):
    args = parse_args(argv)
    if args.build_cache and args.launcher != 'none':
        # The builder would open its own (gloo) process group before the
        # Runner opens the training one.
        raise SystemExit(
            '--build-cache runs in one process: under a launcher, build the '
            'cache first with `torchrun ... tools/cache_features.py CONFIG`, '
            'then train')
    cfg = merge_args(
        load_config(args.config, args.cfg_options, args.launcher,
                    args.work_dir), args)
    phases = ['train_dataloader']
    if cfg.get('val_cfg') is not None:
        phases.append('val_dataloader')
    if args.test_best:
        phases.append('test_dataloader')
    if args.build_cache:
        try:
            build_cache_before_training(
                args.config, cfg.work_dir, force=args.build_cache == 'force',
                cfg_options=args.cfg_options)
        except (CacheConfigError, StaleCacheError) as err:
            raise SystemExit(f'error: {err}')
    own_process_group = prepare_run(cfg, phases)
    with trusted_checkpoints(*args.trust_checkpoint):
        runner = RUNNERS.build(cfg) if 'runner_type' in cfg \
            else Runner.from_cfg(cfg)
        check_run_checkpoint(runner, cfg, args.config)
        copy_batches_without_waiting(runner)
        if args.channels_last:
            channels_last_on_gpu(runner)
        runner.train()
    if is_main_process():
        link_best_checkpoint(runner)
    if args.test_best:
        evaluate_best_checkpoint(runner, args.test_best)
    close_process_group(own_process_group)
    return runner


if __name__ == '__main__':
    main()
