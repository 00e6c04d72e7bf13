"""The one checkpoint loader: safe unpickling, strict keys, clear messages.

Checkpoints are unpickled with ``torch.load(weights_only=True)`` and an
allowlist of exactly the globals that mmengine, mmpretrain, mmaction2 and
this project write into them (the message hub's ``HistoryBuffer``, numpy
arrays and scalars, ...). A file naming any other global is refused with
:class:`UnsafeCheckpointError`, naming the file and the global; loading it
anyway is an explicit opt-in for that file: ``allow_unsafe=True`` for one
call, or :func:`trusted_checkpoints` around code (a Runner) that loads it;
never a process-wide setting.
"""
import contextlib
import os.path as osp
import pickle
import re
import struct
import sys
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
from mmengine.logging.history_buffer import HistoryBuffer

# How many keys of each kind a mismatch message lists.
_LISTED_KEYS = 5

_REFUSED_GLOBAL = re.compile(r'GLOBAL (\S+) was not an allowed global')
# Messages of torch's restricted unpickler that mean "this pickle asks for
# something outside the allowlist" rather than "this file is damaged".
_REFUSAL_MARKERS = ('was not an allowed global', 'unrecognized function',
                    'Can only create new object', 'Can only build',
                    'is blocked', 'is not a HistoryBuffer statistics method')
# HistoryBuffer's own statistics; registers them on the class only when the
# first buffer is made, so they are named here too.
_HISTORY_STATISTICS = ('min', 'max', 'current', 'mean')
# What torch's RuntimeErrors say about a damaged file (a truncated zip
# archive, a missing record), as opposed to other failures of torch.load.
_DAMAGE_SIGNS = ('PytorchStreamReader', 'zip archive', 'central directory',
                 'file not found in archive', 'truncated', 'unexpected EOF',
                 'corrupted')
# torch's own advice around an unpickler error, left out of our messages.
_TORCH_ADVICE = ('Weights only load failed', 'Please file an issue',
                 'Check the documentation', 'In PyTorch 2.6')


# Real paths of the files that :func:`trusted_checkpoints` opened up.
_TRUSTED: Dict[str, int] = {}


class UnsafeCheckpointError(RuntimeError):
    """A checkpoint's pickle names a global outside the allowlist."""


class CorruptCheckpointError(RuntimeError):
    """A checkpoint file cannot be read (truncated, not a checkpoint)."""


def _history_buffer_getattr(obj, name: str):
    """``getattr`` as a HistoryBuffer's pickle uses it, and nothing more.

    mmengine pickles ``HistoryBuffer.statistics_methods`` as
    ``getattr(HistoryBuffer, 'min')`` and the like. A general ``getattr``
    would let a pickle reach any attribute (``__globals__``, ``tofile``),
    so only a registered statistics method of HistoryBuffer is given out.
    """
    if (isinstance(obj, type) and issubclass(obj, HistoryBuffer)
            and (name in _HISTORY_STATISTICS
                 or name in HistoryBuffer._statistics_methods)
            and not name.startswith('_')):
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'getattr({obj!r}, {name!r}) is not a HistoryBuffer statistics '
        'method; only those are allowed in a checkpoint')


def _numpy_globals() -> List[object]:
    """numpy's array, scalar and dtype reconstructors, under the module
    names of both numpy 1 (``numpy.core``) and numpy 2 (``numpy._core``)."""
    found: List[object] = [np.ndarray, np.dtype]
    multiarray = getattr(getattr(np, '_core', None), 'multiarray', None)
    if multiarray is None:
        multiarray = np.core.multiarray
    for module in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        found += [(multiarray._reconstruct, f'{module}._reconstruct'),
                  (multiarray.scalar, f'{module}.scalar')]
    # numpy >= 1.25 pickles dtypes by their class (numpy.dtypes.Float64DType).
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        found += [
            getattr(dtypes, name) for name in dir(dtypes)
            if name.endswith('DType') and isinstance(
                getattr(dtypes, name), type)
        ]
    return found


def checkpoint_safe_globals() -> List[object]:
    """The globals that legitimate checkpoints of this stack contain.

    Returns:
        list: Entries for ``torch.serialization.safe_globals``: a callable, or
        ``(callable, 'module.name')`` where the pickle's name differs.
    """
    return [
        HistoryBuffer,
        # Protocol-2 pickles write an empty ``bytes`` (the data of an empty
        # numpy array, e.g. a HistoryBuffer that was never updated) as a
        # call of ``bytes()``.
        bytes,
        (_history_buffer_getattr, 'builtins.getattr'),
        (_history_buffer_getattr, '__builtin__.getattr'),
    ] + _numpy_globals()


@contextlib.contextmanager
def trusted_checkpoints(*paths: str) -> Iterator[None]:
    """Unpickle exactly these files without the allowlist for a while.

    For a legacy checkpoint that the safe loader refuses and that a Runner
    (``load_from``, ``--resume``) or a teacher loads on its own: the opt-in
    names the files, and ends with the ``with`` block. Any other file still
    loads safely.

    Args:
        *paths (str): The trusted checkpoint files. Unpickling them may run
            any code: only files you made or trust.

    Example:
        >>> with trusted_checkpoints('legacy.pth'):
        ...     runner.test()
    """
    keys = [osp.realpath(osp.expanduser(p)) for p in paths]
    for key in keys:
        _TRUSTED[key] = _TRUSTED.get(key, 0) + 1
    try:
        yield
    finally:
        for key in keys:
            _TRUSTED[key] -= 1
            if not _TRUSTED[key]:
                del _TRUSTED[key]


def _refusal(message: str) -> bool:
    return any(marker in message for marker in _REFUSAL_MARKERS)


def _cut_short(name: str) -> bool:
    """Whether a refused global is a name cut off by a truncated file: its
    module is loaded and lacks it (``torch._utils._rebuild_tens``). Only
    loaded modules are looked at: importing one a file names could run it.
    """
    module, _, attr = name.rpartition('.')
    if not module or not attr:
        return True
    loaded = sys.modules.get(module)
    return loaded is not None and not hasattr(loaded, attr)


def _unpickler_reason(message: str) -> str:
    """The unpickler's own words in torch's wrapped error message."""
    lines = [line.strip() for line in message.splitlines()]
    reasons = [line for line in lines
               if line and not line.startswith(_TORCH_ADVICE)]
    return reasons[-1] if reasons else message.strip()


def load_checkpoint_file(path: str,
                         what: str,
                         map_location='cpu',
                         allow_unsafe: bool = False) -> dict:
    """Load a checkpoint file safely.

    Args:
        path (str): The checkpoint file.
        what (str): What the checkpoint is, for messages (``'checkpoint'``,
            ``"teacher 'mnist'"``, ``'teacher.checkpoint'``).
        map_location (str | torch.device | Callable): As for
            :func:`torch.load`. Defaults to ``'cpu'``.
        allow_unsafe (bool): Unpickle without the allowlist: the file
            may then run any code. Only for a file you made or trust.
            Defaults to False (unless the file is inside
            :func:`trusted_checkpoints`).

    Returns:
        dict: What the file holds.

    Raises:
        FileNotFoundError: ``path`` is not a file.
        UnsafeCheckpointError: The pickle names a global outside the
            allowlist (the message names the file and the global).
        CorruptCheckpointError: The file cannot be read as a checkpoint.
    """
    path = osp.expanduser(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what}: checkpoint file not found: {path}')
    allow_unsafe = allow_unsafe or osp.realpath(path) in _TRUSTED
    try:
        with torch.serialization.safe_globals(checkpoint_safe_globals()):
            # only the explicit opt-in unpickles arbitrary objects
            return torch.load(path, map_location=map_location,
                              weights_only=not allow_unsafe)
    except pickle.UnpicklingError as err:
        message = str(err)
        refused = _REFUSED_GLOBAL.search(message)
        if allow_unsafe or not _refusal(message) or (
                refused and _cut_short(refused.group(1))):
            raise CorruptCheckpointError(
                f'{what}: cannot read checkpoint {path}: it is truncated or '
                f'not a checkpoint ({_unpickler_reason(message)})') from err
        culprit = (f'the global {refused.group(1)}' if refused else
                   'an object outside the allowlist')
        raise UnsafeCheckpointError(
            f'{what}: refused to load checkpoint {path}: its pickle names '
            f'{culprit}, which mmengine/mmpretrain/mmaction2 checkpoints '
            'never contain, and unpickling it could run arbitrary code. If '
            'you made this file or trust it, load it with allow_unsafe=True '
            '(mlfd_mm.checkpoint.load_checkpoint_file) or inside '
            f'mlfd_mm.checkpoint.trusted_checkpoints({path!r})') from err
    except (EOFError, OSError, ValueError, IndexError, KeyError,
            struct.error) as err:
        raise CorruptCheckpointError(
            f'{what}: cannot read checkpoint {path}: it is truncated or not '
            f'a checkpoint ({type(err).__name__}: {err})') from err
    except RuntimeError as err:
        if not any(sign in str(err) for sign in _DAMAGE_SIGNS):
            raise  # e.g. a CUDA tensor on a machine without CUDA
        raise CorruptCheckpointError(
            f'{what}: cannot read checkpoint {path}: it is truncated or not '
            f'a checkpoint ({err})') from err


def state_dict_of(loaded: dict) -> dict:
    """The state dict of a loaded checkpoint, without a ``module.`` prefix.

    Args:
        loaded (dict): What :func:`load_checkpoint_file` returned: a
            checkpoint with a ``state_dict``, or a bare state dict.

    Returns:
        dict: The state dict; keys of a DDP-wrapped model lose their leading
        ``module.``.
    """
    if not isinstance(loaded, dict):
        raise TypeError(f'a checkpoint must hold a dict, got '
                        f'{type(loaded).__name__}')
    state = loaded.get('state_dict', loaded)
    return {(k[len('module.'):] if k.startswith('module.') else k): v
            for k, v in state.items()}


def _listed(label: str, keys: Sequence[str]) -> str:
    more = (f' and {len(keys) - _LISTED_KEYS} more'
            if len(keys) > _LISTED_KEYS else '')
    return f'{label} ({len(keys)}): {", ".join(keys[:_LISTED_KEYS])}{more}'


def state_dict_mismatch(own: Dict[str, torch.Tensor],
                        state: Dict[str, object]) -> List[str]:
    """What differs between a model's state dict and a checkpoint's.

    Args:
        own (dict): The model's ``state_dict()``.
        state (dict): The checkpoint's state dict.

    Returns:
        list[str]: One entry each for missing, unexpected and mis-shaped
        keys (those that occur), each with its count and first keys; empty
        when the keys and shapes agree.
    """
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f'{k} (checkpoint {tuple(state[k].shape)}, model '
        f'{tuple(own[k].shape)})' for k in own
        if k in state and hasattr(state[k], 'shape')
        and tuple(state[k].shape) != tuple(own[k].shape)
    ]
    return [_listed(label, keys)
            for label, keys in (('missing', missing),
                                ('unexpected', unexpected),
                                ('shape mismatch', shapes)) if keys]


def load_state_dict_strict(module: nn.Module,
                           state: dict,
                           what: str,
                           prefix_hint: str = '',
                           source_state: Optional[dict] = None) -> None:
    """Load ``state`` into ``module``; any difference is an error naming it.

    Args:
        module (nn.Module): The model (or part) to load into.
        state (dict): Its state dict, keys relative to ``module``.
        what (str): What is loaded, for the message (``"teacher 'mnist':
            checkpoint x.pth"``).
        prefix_hint (str): Where ``module`` sits in the checkpoint (e.g.
            ``'backbone'``), named in the message. Defaults to ''.
        source_state (dict, optional): The checkpoint's whole state dict,
            to say what the checkpoint is when ``state`` is only a part of
            it. Defaults to ``state``.

    Raises:
        RuntimeError: Missing, unexpected or mis-shaped keys; the message
        lists the first few of each with their counts and shapes, and what
        the checkpoint appears to be.
    """
    problems = state_dict_mismatch(module.state_dict(), state)
    if problems:
        target = f'its {prefix_hint}' if prefix_hint else 'the model'
        kind = describe_checkpoint(
            state if source_state is None else source_state)
        raise RuntimeError(
            f'{what} does not match {target} {type(module).__name__}: '
            + '; '.join(problems) + f'. The checkpoint looks like {kind}.')
    module.load_state_dict(state, strict=True)


# (what a checkpoint is, a test on its top-level key prefixes), first match
# wins: the distillers own a ``student``, the joint teacher ``teachers``.
_CHECKPOINT_KINDS: Tuple[Tuple[str, Callable[[set], bool]], ...] = (
    ('a distiller run (MLFD/AMTML student training)',
     lambda roots: 'student' in roots),
    ('a joint teacher (stage 2)', lambda roots: 'teachers' in roots),
    ('a stock classifier or stage-1 teacher / exported student',
     lambda roots: bool(roots & {'backbone', 'head', 'cls_head'})),
)


def describe_checkpoint(state: dict, meta: Optional[dict] = None) -> str:
    """A short guess of what a checkpoint is, from its state dict's keys.

    Args:
        state (dict): A state dict (``module.`` already stripped).
        meta (dict, optional): The checkpoint's ``meta``; an export of
            ``tools/export_student.py`` says there where it came from.

    Returns:
        str: e.g. ``'a joint teacher (stage 2)'``, or a description of its
        top-level key prefixes when it is none of the known kinds.
    """
    if meta and meta.get('exported_from'):
        return f"an exported student (from {meta['exported_from']})"
    roots = {str(k).split('.', 1)[0] for k in state}
    for kind, matches in _CHECKPOINT_KINDS:
        if matches(roots):
            return kind
    listed = sorted(roots)[:_LISTED_KEYS]
    return f'an unknown model (top-level keys {listed})'
