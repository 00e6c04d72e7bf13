"""Keeping frozen, checkpoint-loaded children out of weight initialisation."""
import contextlib
from typing import Iterator, Sequence

import torch.nn as nn


@contextlib.contextmanager
def detached_children(module: nn.Module,
                      names: Sequence[str]) -> Iterator[None]:
    """Take the named children out of ``module`` for the duration.

    mmengine's ``BaseModule.init_weights`` applies an ``init_cfg`` to every
    submodule it can reach; a frozen teacher whose weights came from a
    checkpoint must not be reached. Inside the context the children are not
    in ``module._modules``; afterwards (also on error) they are put back at
    their original positions, so the module's state-dict and parameter order
    is unchanged.

    Args:
        module (nn.Module): The parent.
        names (Sequence[str]): Names of its children to detach. A name that
            is not a child is an error.

    Example:
        >>> with detached_children(self, ['teachers']):
        ...     super().init_weights()
    """
    missing = [n for n in names if n not in module._modules]
    if missing:
        raise KeyError(
            f'{type(module).__name__} has no child module(s) {missing} '
            f'(children: {list(module._modules)})')
    order = list(module._modules)
    detached = {name: module._modules.pop(name) for name in names}
    try:
        yield
    finally:
        # Children added inside the context keep their place after the
        # original ones.
        current = dict(module._modules)
        module._modules.clear()
        for name in order:
            if name in detached:
                module._modules[name] = detached[name]
            elif name in current:
                module._modules[name] = current.pop(name)
        module._modules.update(current)
