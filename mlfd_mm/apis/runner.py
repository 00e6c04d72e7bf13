"""The set-up that tools/train.py and tools/test.py share: loading a config
with the command line's overrides, checking it before any work starts,
multi-process training on CPU, and what a run leaves behind (the best
checkpoint's link, its test metrics)."""
import json
import os
import os.path as osp

import torch
from mmengine.config import Config, DictAction
from mmengine.dist import is_main_process

from ..atomic_files import atomic_write_json
from ..checks import (check_cfg_options, check_checkpoint_fits,
                      check_clip_frames, check_data_roots, check_datasets)
from ..compat import prepare_cpu_distributed
from ..config import complete_config


def parse_run_args(parser, argv=None):
    """Add the arguments that every train or test run takes
    (``--cfg-options``, ``--launcher``, ``--local-rank``,
    ``--trust-checkpoint``), parse, and export
    the local rank as torchrun would.

    Args:
        parser (argparse.ArgumentParser): the tool's own arguments.
        argv (list[str], optional): default ``sys.argv[1:]``.

    Returns:
        argparse.Namespace: the parsed arguments.
    """
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, key=value pairs')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    parser.add_argument(
        '--trust-checkpoint', nargs='+', default=[], metavar='FILE',
        help='unpickle these checkpoint files without the allowlist (a '
        'legacy file the safe loader refuses); unpickling may run any '
        'code: only files you made or trust')
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def load_config(path, cfg_options=None, launcher='none', work_dir=None,
                missing_checkpoints='error'):
    """Read a train or test config, fold in the command line and complete it
    (a joint config's loaders from its teachers, ``checkpoint='auto'``; see
    :func:`mlfd_mm.config.complete_config`).

    Args:
        path (str): the config file.
        cfg_options (dict, optional): ``--cfg-options`` key=value overrides.
        launcher (str): 'none', 'pytorch', 'slurm' or 'mpi'.
        work_dir (str, optional): overrides the config's ``work_dir``;
            without either, ``./work_dirs/<config file stem>``.
        missing_checkpoints (str): 'error', or 'none' where an ``'auto'``
            checkpoint that is not there may stay empty (testing a
            checkpoint that holds the teachers' weights).

    Returns:
        Config: the merged config.
    """
    cfg = Config.fromfile(path)
    if cfg_options is not None:
        check_cfg_options(cfg, cfg_options)
        cfg.merge_from_dict(cfg_options)
        if any(str(k).split('.')[0] == 'custom_imports' for k in cfg_options):
            # Config.fromfile imported the file's own; mmengine's Runner
            # imports none, so an option's would be silently ignored.
            from mmengine.utils import import_modules_from_strings
            import_modules_from_strings(**cfg.custom_imports)
    complete_config(cfg, missing_checkpoints)
    cfg.launcher = launcher
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(path))[0])
    return cfg


def prepare_run(cfg, phases):
    """Check the data of the dataloaders a run builds, then set up its
    processes.

    Args:
        cfg (Config): the run's config, with ``launcher``.
        phases (Sequence[str]): the dataloader keys the run builds.

    Returns:
        bool: whether a CPU process group was opened here (close it with
        :func:`close_process_group`).
    """
    check_data_roots(cfg, phases)
    check_clip_frames(cfg, phases)
    check_datasets(cfg, phases)
    return prepare_cpu_distributed(cfg, cfg.launcher)


def check_run_checkpoint(runner, cfg, config_path='', testing=False):
    """Before a run tests or resumes, check that the checkpoint it will
    load (``load_from``, or with ``resume=True`` the work dir's latest)
    fits its model: any missing, unexpected or mis-shaped key is an error
    (see :func:`mlfd_mm.checks.check_checkpoint_fits`). A ``load_from``
    without ``resume`` (fine-tuning, e.g. a Kinetics checkpoint for a
    101-class head) only warns, unless nothing of it fits.

    Args:
        runner (Runner): the built runner.
        cfg (Config): its config (``load_from``, ``resume``).
        config_path (str): the config file, named in messages.
        testing (bool): the run tests ``load_from`` (always strict).
    """
    from mmengine.runner import find_latest_checkpoint
    path, resume = cfg.get('load_from'), bool(cfg.get('resume'))
    if resume and not path:
        path = find_latest_checkpoint(runner.work_dir)
    if not path or '://' in str(path):
        return  # a URL: mmengine downloads it, there is no file to read
    what = ('--resume checkpoint' if resume else 'checkpoint' if testing
            else 'load_from checkpoint')
    check_checkpoint_fits(runner.model, path, what, config_path,
                          strict=resume or testing)


def close_process_group(own_process_group):
    """Close a process group opened by :func:`prepare_run`."""
    if own_process_group:
        # Ranks finish at different times (rank 0 saves the best
        # checkpoint); a rank leaving with gloo's threads alive aborts.
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


def link_best_checkpoint(runner):
    """Point ``<work_dir>/best.pth`` at the best checkpoint, if any, so the
    next stage can name a stable path.

    Returns:
        str | None: the link, None where the run saved no best checkpoint.
    """
    best = runner.message_hub.get_info('best_ckpt')
    if not best or not osp.isfile(best):
        return None
    link = osp.join(runner.work_dir, 'best.pth')
    tmp = link + '.tmp'
    if osp.lexists(tmp):
        os.remove(tmp)
    os.symlink(osp.basename(best), tmp)
    os.replace(tmp, link)  # atomic: a reader never sees a missing link
    return link


def write_metrics(metrics, path):
    """Write test metrics as JSON (written aside, then renamed)."""
    atomic_write_json(path, metrics, default=float)


def evaluate_best_checkpoint(runner, out_file):
    """Test the run's best checkpoint on the test split, as tools/test.py
    would, without a second process (the pipeline's stages save its start).

    Args:
        runner (Runner): a runner that has trained.
        out_file (str): where the main process writes the metrics (JSON).

    Returns:
        dict: the test metrics.
    """
    # Every rank knows best_ckpt (best.pth is linked by rank 0 only).
    best = runner.message_hub.get_info('best_ckpt')
    if not best or not osp.isfile(best):
        with open(osp.join(runner.work_dir, 'last_checkpoint')) as f:
            best = f.read().strip()
    runner.load_checkpoint(best, map_location='cpu')
    metrics = runner.test()
    if is_main_process():
        write_metrics(metrics, out_file)
    return metrics


def format_accuracy_table(metrics):
    """Render ``{'<group>/...top1': x, ...}`` as a plain-text table.

    Keys of mmpretrain's Accuracy (``accuracy/top1``) form the group 'all';
    per-dataset keys (``mnist/accuracy_top1``) form one row per dataset;
    metrics without top-k keys are printed as JSON.
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
