"""A run stopped after an epoch and resumed ends exactly like an
uninterrupted one (RNGStateHook): same weights, same metrics.

Run as a script under torchrun, this file trains one of the runs of
:func:`test_distributed_resume_repeats_uninterrupted`.
"""
import os
import os.path as osp
import sys

import mlfd_mm  # noqa: F401  (compat fixes before torchvision)
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from mmengine.runner import Runner

from mlfd_mm.apis.export import build_export_config
from mlfd_mm.checkpoint import load_checkpoint_file
from mlfd_mm.engine.rng_state_hook import (CHECKPOINT_KEY, capture_rng_state,
                                           restore_rng_state)

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..'))
CONFIG = osp.join(REPO, 'configs/teachers/offline_mnist_resnet18.py')


class _Killed(Exception):
    pass


@HOOKS.register_module(force=True)
class _KillAfterEpochHook(Hook):
    """Stops the run right after an epoch's checkpoint is written, as a
    kill between epochs would."""

    priority = 'LOWEST'  # after CheckpointHook (VERY_LOW)

    def __init__(self, epoch):
        self.epoch = epoch

    def after_train_epoch(self, runner):
        if runner.epoch + 1 == self.epoch:
            raise _Killed


@HOOKS.register_module(force=True)
class _RecordRNGHook(Hook):
    """Records the main process's generator states at every training
    iteration, after RNGStateHook (NORMAL) has restored them."""

    priority = 'LOW'
    records = {}

    def __init__(self, key):
        self.key = key

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        state = capture_rng_state()
        self.records.setdefault(self.key, []).append(
            (runner.epoch, batch_idx, state['python'],
             state['numpy']['keys'].tolist(), state['numpy']['pos'],
             state['torch'].tolist()))


def _cfg(root, work_dir, persistent=True, kill_after=None, val_interval=5):
    cfg = Config.fromfile(CONFIG)
    data_root = osp.join(root, 'mnist')
    for split in ('train', 'val', 'test'):
        loader = cfg[f'{split}_dataloader']
        loader.dataset.data_root = data_root
        loader.num_workers = 1
        loader.persistent_workers = persistent
    cfg.train_dataloader.batch_size = 32
    cfg.train_cfg.max_epochs = 3
    cfg.train_cfg.val_interval = val_interval
    cfg.param_scheduler[1].end = 3
    cfg.param_scheduler[1].T_max = 2
    cfg.model.backbone.update(stem_channels=8, base_channels=8)
    cfg.model.head.in_channels = 64
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.max_keep_ckpts = -1
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = osp.basename(str(work_dir))
    cfg.custom_hooks = [dict(type='_RecordRNGHook', key=str(work_dir))]
    if kill_after is not None:
        cfg.custom_hooks.append(dict(type='_KillAfterEpochHook',
                                     epoch=kill_after))
    return cfg


def _train(cfg, resume=False):
    if resume:
        cfg.resume = True
        cfg.load_from = None
    runner = Runner.from_cfg(cfg)
    try:
        runner.train()
    except _Killed:
        pass
    return runner


def _final(work_dir):
    ckpt = load_checkpoint_file(osp.join(work_dir, 'epoch_3.pth'), 'final')
    return ckpt['state_dict'], ckpt['message_hub']['log_scalars']


def _val_scalars(log_scalars):
    """The last validation's accuracies (a resumed run's history lacks the
    validation that ran after the checkpoint it resumed from)."""
    return {k: v.data[0].tolist()[-1] for k, v in log_scalars.items()
            if k.startswith('val/accuracy')}


@pytest.mark.parametrize('persistent,val_interval,kill_after', [
    # The offline configs' loaders (one persistent worker), validating after
    # every epoch: the resumed run's first validation makes the val
    # iterator that the uninterrupted run already has (its seed draw is
    # kept neutral) before epoch 3 trains.
    (True, 1, 1),
    # Validation only at the end.
    pytest.param(True, 5, 2, marks=pytest.mark.slow),
    # Workers made afresh each epoch: the uninterrupted run draws a base
    # seed for the val and the train iterators between the save and the
    # next iteration; the saved torch state includes those draws.
    pytest.param(False, 1, 2, marks=pytest.mark.slow)])
def test_resumed_run_repeats_uninterrupted(tiny_offline_root, tmp_path,
                                           persistent, val_interval,
                                           kill_after):
    full = tmp_path / 'full'
    _train(_cfg(tiny_offline_root, full, persistent,
                val_interval=val_interval))
    part = tmp_path / 'part'
    _train(_cfg(tiny_offline_root, part, persistent, kill_after=kill_after,
                val_interval=val_interval))
    assert not osp.exists(part / 'epoch_3.pth')
    saved = load_checkpoint_file(str(part / f'epoch_{kill_after}.pth'),
                                 'killed run')
    assert CHECKPOINT_KEY in saved
    if persistent:
        assert len(saved[CHECKPOINT_KEY]['ranks'][0]['train_workers']) == 1
    _train(_cfg(tiny_offline_root, part, persistent,
                val_interval=val_interval), resume=True)

    # The main process's generators at each iteration after the kill: the
    # resumed run's equal the uninterrupted run's.
    full_rng = [r for r in _RecordRNGHook.records[str(full)]
                if r[0] >= kill_after]
    part_rng = [r for r in _RecordRNGHook.records[str(part)]
                if r[0] >= kill_after]
    assert full_rng and len(part_rng) == len(full_rng)
    assert part_rng == full_rng

    full_state, full_scalars = _final(str(full))
    part_state, part_scalars = _final(str(part))
    assert full_state.keys() == part_state.keys()
    differ = [k for k in full_state
              if not torch.equal(full_state[k], part_state[k])]
    assert not differ, f'weights differ after resume: {differ[:5]}'
    full_val = _val_scalars(full_scalars)
    assert full_val and full_val == _val_scalars(part_scalars)
    full_loss = full_scalars['train/loss'].data[0].tolist()
    part_loss = part_scalars['train/loss'].data[0].tolist()
    # The resumed run logs epoch 3 only: it must match the tail.
    assert part_loss == full_loss[-len(part_loss):]


def test_rng_state_round_trips_through_a_safe_checkpoint(tmp_path):
    state = capture_rng_state()
    path = str(tmp_path / 'rng.pth')
    torch.save({CHECKPOINT_KEY: state}, path)
    loaded = load_checkpoint_file(path, 'rng')[CHECKPOINT_KEY]
    import random

    import numpy as np
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    restore_rng_state(loaded)
    assert (random.random(), np.random.rand(),
            torch.rand(1).item()) == expected


def test_capturing_draws_nothing():
    import random

    import numpy as np
    before = capture_rng_state()
    capture_rng_state()
    after = capture_rng_state()
    assert before['python'] == after['python']
    assert torch.equal(before['numpy']['keys'], after['numpy']['keys'])
    assert torch.equal(before['torch'], after['torch'])
    del random, np


def test_load_from_restores_nothing(tiny_offline_root, tmp_path):
    """``load_from`` (fine-tuning) starts a fresh run: the generators are
    seeded by ``randomness``, not taken from the checkpoint."""
    first = tmp_path / 'first'
    _train(_cfg(tiny_offline_root, first, False, kill_after=1))
    second = tmp_path / 'second'
    cfg = _cfg(tiny_offline_root, second, False, kill_after=1)
    cfg.load_from = str(first / 'epoch_1.pth')
    _train(cfg)
    fresh = tmp_path / 'fresh'
    _train(_cfg(tiny_offline_root, fresh, False, kill_after=1))
    records = _RecordRNGHook.records
    assert records[str(second)] == records[str(fresh)]


def test_export_carries_no_rng_hook():
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/mlfd/student_offline_mnist.py'))
    assert cfg.default_hooks.rng_state.type == 'RNGStateHook'
    exported, _ = build_export_config(cfg)
    assert 'default_hooks' not in exported
    assert 'RNGStateHook' not in repr(exported)


def _dist_train(root, work_dir, mode):
    """One torchrun process of the distributed test: 2 ranks (gloo), one
    persistent worker each, killed after epoch 1 or resumed."""
    from mlfd_mm.apis.runner import prepare_cpu_distributed
    torch.set_num_threads(1)
    cfg = _cfg(root, work_dir, True, val_interval=1,
               kill_after=1 if mode == 'kill' else None)
    cfg.train_dataloader.batch_size = 16
    cfg.launcher = 'pytorch'
    cfg.env_cfg.dist_cfg = dict(backend='gloo')
    prepare_cpu_distributed(cfg, 'pytorch')
    _train(cfg, resume=mode == 'resume')
    rank = int(os.environ['RANK'])
    torch.save([(r[0], r[1], r[5]) for r in
                _RecordRNGHook.records[str(work_dir)] if r[0] >= 1],
               osp.join(work_dir, f'rng_rank{rank}_{mode}.pt'))


@pytest.mark.slow
def test_distributed_resume_repeats_uninterrupted(tiny_offline_root,
                                                  tmp_path):
    """Each rank resumes with its own generators and its workers' (their
    seeds differ by rank): the weights equal the uninterrupted run's."""
    from conftest import PYTHON, run_tool
    for port, (name, mode) in enumerate(
            [('full', 'full'), ('part', 'kill'), ('part', 'resume')]):
        run_tool(PYTHON, '-m', 'torch.distributed.run', '--nproc_per_node',
                 '2', '--master_port', str(29631 + port), __file__,
                 tiny_offline_root,
                 tmp_path / name, mode, timeout=300)
    full = load_checkpoint_file(str(tmp_path / 'full/epoch_3.pth'), 'full')
    part = load_checkpoint_file(str(tmp_path / 'part/epoch_3.pth'), 'part')
    assert len(part[CHECKPOINT_KEY]['ranks']) == 2
    assert all(torch.equal(v, part['state_dict'][k])
               for k, v in full['state_dict'].items())
    for rank in (0, 1):
        assert torch.load(tmp_path / f'full/rng_rank{rank}_full.pt') == \
            torch.load(tmp_path / f'part/rng_rank{rank}_resume.pt')


if __name__ == '__main__':
    sys.path.insert(0, REPO)
    _dist_train(*sys.argv[1:4])
