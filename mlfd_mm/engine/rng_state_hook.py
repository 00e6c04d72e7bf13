"""RNGStateHook: a resumed run continues with the random numbers of an
uninterrupted one.

mmengine's ``--resume`` restores weights, optimizer, schedulers and the
epoch, but not the random number generators. Three streams matter:

- the main process's Python ``random``, numpy and torch (CPU, and CUDA when
  present) generators: dropout, batch augments, ...;
- the generators of *persistent* dataloader workers (``persistent_workers
  =True``), which run the training pipeline's random transforms: they are
  seeded once, when the workers start, and then advance epoch after epoch;
  a resumed run starts new workers from the initial seed;
- the samplers: mmengine's ``DefaultSampler`` and our
  ``MultiDatasetSampler`` draw each epoch from ``seed + epoch``, so the
  epoch restored by mmengine is all they need.

The hook stores the first two in the checkpoint (top-level key
``rng_state``; plain tensors, lists and numbers, which the safe loader of
:mod:`mlfd_mm.checkpoint` accepts) and restores them when the run resumes.
It draws no random number of its own, so an uninterrupted run's numbers are
unchanged by it.

Where the streams are taken and given back:

- main process: restored at the first training iteration after the resume,
  i.e. after the resumed run has made its training dataloader iterator. The
  state saved is the one the uninterrupted run has at that same point: the
  state at saving time advanced by the draws the uninterrupted run still
  makes before that point (torch draws one base seed from the global
  generator for every dataloader iterator it makes: the validation at the
  end of the epoch, and the next epoch's training iterator unless its
  workers are persistent). A persistent validation loader whose iterator the
  uninterrupted run already had draws nothing; the resumed run's first
  validation, which must make it, is made neutral.
- workers: each persistent training worker writes its generator states into
  a small shared-memory buffer after every batch (they only read the
  generators); the states after the epoch's last batch go into the
  checkpoint, and the resumed run's new workers take them over right after
  mmengine's ``worker_init_fn`` has seeded them. Workers made afresh every
  epoch (``persistent_workers=False``) are seeded alike in both runs and
  need nothing.
- distributed runs: every rank's states are gathered at the end of each
  epoch and validation (before CheckpointHook saves on rank 0) and saved as
  ``rng_state['ranks']``; rank r resumes with entry r. A resume with another
  number of processes restores what it can and warns.

Epoch-based loops are what this adjustment and the worker states are for.
With an iteration-based loop the main-process state is restored as saved
(no adjustment) and worker states are neither saved nor set: mmengine
replays the iterations done through the dataloader, which advances new
workers as far as the uninterrupted run's.
"""
import bisect
import pickle
import random
import struct
from typing import List, Optional

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from mmengine.runner import BaseLoop, EpochBasedTrainLoop

CHECKPOINT_KEY = 'rng_state'
# Shared-memory bytes per worker for its pickled generator states (a few
# KiB are used: 625 + 624 32-bit words and torch's 5 KiB state).
_WORKER_BUFFER_BYTES = 1 << 16
_LENGTH = struct.Struct('<q')


# ---------------------------------------------------------------------------
# generator states as plain values (what a weights_only checkpoint holds)
# ---------------------------------------------------------------------------
def capture_rng_state() -> dict:
    """The states of Python's, numpy's and torch's global generators.

    Returns:
        dict: ``python`` (``random.getstate()``: a tuple of ints), ``numpy``
        (``np.random.get_state()`` with its key array as an int64 tensor),
        ``torch`` (a uint8 tensor) and ``cuda`` (a list of uint8 tensors, one
        per device; empty without CUDA). Nothing is drawn.
    """
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return dict(
        python=random.getstate(),
        numpy=dict(name=str(name),
                   keys=torch.from_numpy(keys.astype(np.int64)),
                   pos=int(pos), has_gauss=int(has_gauss),
                   cached_gaussian=float(cached)),
        torch=torch.get_rng_state(),
        cuda=(torch.cuda.get_rng_state_all()
              if torch.cuda.is_available() and torch.cuda.is_initialized()
              else []))


def restore_rng_state(state: dict) -> None:
    """Set the global generators to a state of :func:`capture_rng_state`."""
    version, internal, gauss = state['python']
    random.setstate((int(version), tuple(int(v) for v in internal), gauss))
    np_state = state['numpy']
    keys = np_state['keys']
    keys = keys.cpu().numpy() if torch.is_tensor(keys) else np.asarray(keys)
    np.random.set_state((np_state['name'], keys.astype(np.uint32),
                         int(np_state['pos']), int(np_state['has_gauss']),
                         float(np_state['cached_gaussian'])))
    torch.set_rng_state(torch.as_tensor(state['torch']).cpu().to(torch.uint8))
    cuda = state.get('cuda') or []
    if cuda and torch.cuda.is_available():
        count = min(len(cuda), torch.cuda.device_count())
        for device in range(count):
            torch.cuda.set_rng_state(
                torch.as_tensor(cuda[device]).cpu().to(torch.uint8), device)


def _torch_state_after_draws(draws: int) -> torch.Tensor:
    """torch's CPU generator state after ``draws`` dataloader base-seed
    draws, without moving the generator itself."""
    saved = torch.get_rng_state()
    try:
        for _ in range(draws):
            # What torch.utils.data's _BaseDataLoaderIter draws.
            torch.empty((), dtype=torch.int64).random_()
        return torch.get_rng_state()
    finally:
        torch.set_rng_state(saved)


# ---------------------------------------------------------------------------
# persistent dataloader workers
# ---------------------------------------------------------------------------
class _RecordingCollate:
    """A worker's collate_fn: the original one, then the worker's generator
    states written to its slot of a shared buffer (read only)."""

    def __init__(self, collate_fn, buffer: torch.Tensor):
        self.collate_fn = collate_fn
        self.buffer = buffer

    def __call__(self, batch):
        data = self.collate_fn(batch)
        info = torch.utils.data.get_worker_info()
        if info is not None and info.id < self.buffer.shape[0]:
            name, keys, pos, has_gauss, cached = np.random.get_state()
            payload = pickle.dumps(
                (random.getstate(),
                 (str(name), keys.tolist(), int(pos), int(has_gauss),
                  float(cached)),
                 torch.get_rng_state().numpy().tobytes()))
            slot = self.buffer[info.id].numpy()
            if _LENGTH.size + len(payload) <= slot.size:
                slot[:_LENGTH.size] = np.frombuffer(
                    _LENGTH.pack(0), dtype=np.uint8)
                slot[_LENGTH.size:_LENGTH.size + len(payload)] = \
                    np.frombuffer(payload, dtype=np.uint8)
                slot[:_LENGTH.size] = np.frombuffer(
                    _LENGTH.pack(len(payload)), dtype=np.uint8)
        return data


class _RestoringWorkerInit:
    """A worker_init_fn: the original one (mmengine's seeding), then, in a
    resumed run, the worker's generator states of the checkpoint."""

    def __init__(self, worker_init_fn, states: Optional[List[dict]]):
        self.worker_init_fn = worker_init_fn
        self.states = states

    def __call__(self, worker_id: int):
        if self.worker_init_fn is not None:
            self.worker_init_fn(worker_id)
        if self.states and worker_id < len(self.states) and \
                self.states[worker_id] is not None:
            restore_rng_state(self.states[worker_id])


def _read_worker_states(buffer: torch.Tensor) -> List[Optional[dict]]:
    """The states the workers last wrote, as plain checkpoint values (None
    for a worker that has written none)."""
    states = []
    for slot in buffer.numpy():
        length = _LENGTH.unpack(slot[:_LENGTH.size].tobytes())[0]
        if length <= 0:
            # A worker that has made no batch yet is still at its initial
            # seed, which a resumed run's new worker gets too.
            states.append(None)
            continue
        # Written by this run's own worker processes, not read from a file.
        python, (name, keys, pos, has_gauss, cached), torch_bytes = \
            pickle.loads(slot[_LENGTH.size:_LENGTH.size + length].tobytes())
        states.append(dict(
            python=python,
            numpy=dict(name=name, keys=torch.tensor(keys, dtype=torch.int64),
                       pos=pos, has_gauss=has_gauss, cached_gaussian=cached),
            torch=torch.frombuffer(bytearray(torch_bytes), dtype=torch.uint8),
            cuda=[]))
    return states


def _persistent(loader) -> bool:
    return bool(getattr(loader, 'persistent_workers', False)
                and getattr(loader, 'num_workers', 0) > 0)


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Save the random generators' states with each checkpoint; restore them
    on ``resume`` so that a resumed run repeats an uninterrupted one.

    See the module docstring for what is saved and when it is restored.
    Loading weights with ``load_from`` (no resume) restores nothing.

    Args:
        enable (bool): Save and restore the states. mmengine cannot drop a
            default hook it does not know (``default_hooks.rng_state=None``
            fails), so ``default_hooks.rng_state.enable=False`` switches it
            off. Defaults to True.
    """

    # Before CheckpointHook (VERY_LOW), so that its after_train_epoch /
    # after_val_epoch saves see this hook's bookkeeping.
    priority = 'NORMAL'

    def __init__(self, enable: bool = True):
        self.enable = enable
        self._restore: Optional[dict] = None
        self._worker_restore: Optional[List[dict]] = None
        self._worker_buffer: Optional[torch.Tensor] = None
        self._val_seen = False  # the uninterrupted run has a val iterator
        self._val_pending = False  # between after_train_epoch and val
        self._val_stash: Optional[torch.Tensor] = None
        self._prepared: Optional[List[dict]] = None  # per rank, for a save

    # -- saving --------------------------------------------------------------
    def _pending_draws(self, runner) -> int:
        """Base-seed draws the uninterrupted run makes between this save and
        its next training iteration."""
        loop = getattr(runner, '_train_loop', None)
        if not isinstance(loop, EpochBasedTrainLoop):
            return 0
        draws = 0 if _persistent(loop.dataloader) else 1
        if self._val_pending and self._val_runs_after(runner, loop):
            val_loader = runner.val_loop.dataloader
            if not (_persistent(val_loader) and self._val_seen):
                draws += 1
        return draws

    @staticmethod
    def _val_runs_after(runner, loop) -> bool:
        """Whether EpochBasedTrainLoop.run validates after this epoch."""
        val_loop = getattr(runner, '_val_loop', None)
        if val_loop is None or isinstance(val_loop, dict):
            return False
        done = loop.epoch + 1  # loop._epoch is incremented after the hooks
        interval = loop.val_interval
        milestones = getattr(loop, 'dynamic_milestones', None)
        if milestones:
            step = bisect.bisect(milestones, done)
            interval = loop.dynamic_intervals[step - 1]
        return done >= loop.val_begin and (done % interval == 0
                                           or done == loop.max_epochs)

    def _state_to_save(self, runner) -> dict:
        """This rank's states as the checkpoint keeps them."""
        state = capture_rng_state()
        state['torch'] = _torch_state_after_draws(self._pending_draws(runner))
        state['val_seen'] = bool(
            self._val_seen or (self._val_pending and self._val_runs_after(
                runner, runner.train_loop)))
        if self._worker_buffer is not None:
            state['train_workers'] = _read_worker_states(self._worker_buffer)
        return state

    def _prepare(self, runner) -> None:
        """Take every rank's states before CheckpointHook saves (on rank 0
        only, where no collective can run)."""
        if not isinstance(getattr(runner, '_train_loop', None), BaseLoop):
            return  # a validation outside training saves nothing
        state = self._state_to_save(runner)
        if get_world_size() > 1:
            self._prepared = all_gather_object(state)
        else:
            self._prepared = [state]

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if not self.enable:
            return
        # Saves at the end of an epoch or a validation were prepared on every
        # rank; any other (iteration-based) save keeps this rank's states.
        ranks = self._prepared or [self._state_to_save(runner)]
        self._prepared = None
        checkpoint[CHECKPOINT_KEY] = dict(ranks=ranks)

    # -- restoring -----------------------------------------------------------
    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if not self.enable:
            return
        if not getattr(runner, '_resume', False):
            return  # load_from: weights only, the run starts afresh
        saved = checkpoint.get(CHECKPOINT_KEY)
        if saved is None:
            runner.logger.warning(
                'RNGStateHook: the resumed checkpoint holds no random '
                'generator states (saved without RNGStateHook): the resumed '
                'run will not repeat an uninterrupted one exactly.')
            return
        ranks = saved['ranks']
        rank, world_size = get_rank(), get_world_size()
        state = ranks[min(rank, len(ranks) - 1)]
        if len(ranks) != world_size:
            runner.logger.warning(
                f'RNGStateHook: the checkpoint holds the generator states of '
                f'{len(ranks)} processes, this run has {world_size}: only '
                'the main process generators are restored (from process '
                f'{min(rank, len(ranks) - 1)}); dataloader workers start '
                'afresh, so the resumed run differs from an uninterrupted '
                'one.')
            state = dict(state, train_workers=None)
        self._restore = state
        self._val_seen = bool(state.get('val_seen', False))
        self._worker_restore = state.get('train_workers')

    def before_train(self, runner) -> None:
        if not self.enable:
            return
        loop = runner.train_loop
        # An iteration-based loop replays the iterations done before the
        # resume through its dataloader, which advances new workers as far
        # as the uninterrupted run's: their states must not be set.
        if not (isinstance(loop, EpochBasedTrainLoop)
                and _persistent(loop.dataloader)):
            return
        loader = loop.dataloader
        workers = loader.num_workers
        if self._worker_restore is not None and len(
                self._worker_restore) != workers:
            runner.logger.warning(
                f'RNGStateHook: the checkpoint holds the generator states of '
                f'{len(self._worker_restore)} training dataloader workers, '
                f'this run has {workers}: their augmentations will differ '
                'from the uninterrupted run.')
            self._worker_restore = None
        self._worker_buffer = torch.zeros(
            (workers, _WORKER_BUFFER_BYTES), dtype=torch.uint8).share_memory_()
        loader.collate_fn = _RecordingCollate(loader.collate_fn,
                                              self._worker_buffer)
        loader.worker_init_fn = _RestoringWorkerInit(loader.worker_init_fn,
                                                     self._worker_restore)

    def before_train_epoch(self, runner) -> None:
        if not self.enable:
            return
        self._val_pending = False
        self._prepared = None

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        if not self.enable:
            return
        self._prepared = None  # an iteration's save takes its own states
        if self._restore is not None:
            restore_rng_state(self._restore)
            self._restore = None

    def after_train_epoch(self, runner) -> None:
        if not self.enable:
            return
        self._val_pending = True
        self._prepare(runner)

    def before_val_epoch(self, runner) -> None:
        if not self.enable:
            return
        self._val_pending = False
        self._prepared = None
        loader = runner.val_loop.dataloader
        # A resumed run makes the persistent val iterator that the
        # uninterrupted run already has: keep its base-seed draw neutral.
        if (_persistent(loader) and self._val_seen
                and getattr(loader, '_iterator', None) is None):
            self._val_stash = torch.get_rng_state()

    def before_val_iter(self, runner, batch_idx: int,
                        data_batch=None) -> None:
        if not self.enable:
            return
        if self._val_stash is not None:
            torch.set_rng_state(self._val_stash)
            self._val_stash = None

    def after_val_epoch(self, runner, metrics=None) -> None:
        if not self.enable:
            return
        self._val_seen = True
        self._val_stash = None
        self._prepare(runner)
