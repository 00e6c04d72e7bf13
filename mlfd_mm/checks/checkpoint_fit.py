"""A checkpoint against the model a run built, before testing or resuming:
missing, unexpected or mis-shaped keys are an error naming them and what
the checkpoint appears to be (mmengine would load what fits, warn about
"missing keys" in the log, and evaluate a partly random model)."""
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from ..checkpoint import (describe_checkpoint, load_checkpoint_file,
                          state_dict_mismatch, state_dict_of)


class CheckpointMismatchError(RuntimeError):
    """A checkpoint whose state dict does not fit the run's model."""


def check_checkpoint_fits(model, path, what, config='', strict=True):
    """Compare the state dict of checkpoint ``path`` with ``model``'s.

    Args:
        model (nn.Module): the built model (a DDP wrapper is unwrapped).
        path (str): the checkpoint file (loaded with the safe loader, so
            ``trusted_checkpoints`` applies).
        what (str): what the file is for, e.g. ``'tools/test.py
            checkpoint'`` or ``'--resume'``.
        config (str): the config file, named in the message.
        strict (bool): raise on any difference (testing, resuming); else
            (``load_from`` to fine-tune) only when no key of the model is in
            the checkpoint, and log a warning naming the differences.

    Raises:
        CheckpointMismatchError: the keys or shapes differ.
    """
    if is_model_wrapper(model):
        model = model.module
    loaded = load_checkpoint_file(path, what)
    state = state_dict_of(loaded)
    own = model.state_dict()
    problems = state_dict_mismatch(own, state)
    if not problems:
        return
    meta = loaded.get('meta') if isinstance(loaded, dict) else None
    kind = describe_checkpoint(state, meta if isinstance(meta, dict)
                               else None)
    expected = describe_checkpoint(own)
    message = (f'{what} {path} does not fit the model of '
               f'{config or "the config"} ({type(model).__name__}, '
               f'{expected}): ' + '; '.join(problems)
               + f'. The checkpoint looks like {kind}.')
    if strict or not set(own) & set(state):
        raise CheckpointMismatchError(
            message + ' Give the config the checkpoint was trained with '
            '(an export: its student_config.py).')
    print_log(message + ' Only the keys that fit are loaded.',
              logger='current', level=30)
