"""AutocastOptimWrapper: bf16 mixed-precision training without loss scaling.

mmengine's ``AmpOptimWrapper`` always runs a ``GradScaler``. bf16 has fp32's
exponent range, so its gradients need no scaling; the scaler then only adds
work to every step: a scaled loss, an unscale pass over every gradient, an
inf/NaN check, and a ``.item()`` on that check in ``step()``, which makes the
host wait for the device once per iteration. This wrapper keeps the plain
``OptimWrapper`` step and only enters ``torch.autocast`` around the forward
(the loss is computed inside it; backward runs outside, as autocast wants).
It runs on the CPU too (CPU autocast supports bf16), which is how the tests
check it; ``tools/train.py --amp`` selects it on a GPU with bf16
(:func:`mlfd_mm.apis.device_training.amp_optim_wrapper`).
"""
from contextlib import contextmanager
from typing import Optional, Union

import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(OptimWrapper):
    """An ``OptimWrapper`` whose ``optim_context`` runs the forward under
    ``torch.autocast(dtype=bfloat16)``.

    Args:
        dtype (str | torch.dtype): The autocast dtype: only bfloat16
            (float16 needs loss scaling: use mmengine's ``AmpOptimWrapper``).
            Defaults to ``'bfloat16'``.
        device_type (str, optional): The autocast device type; defaults to
            that of the model's first parameter.
        **kwargs: ``OptimWrapper``'s arguments (``optimizer``,
            ``accumulative_counts``, ``clip_grad``).
    """

    def __init__(self, dtype: Union[str, torch.dtype] = 'bfloat16',
                 device_type: Optional[str] = None, **kwargs):
        if dtype not in ('bfloat16', torch.bfloat16):
            raise ValueError(
                f'AutocastOptimWrapper: dtype must be bfloat16, got {dtype!r}'
                "; float16 needs loss scaling: use type='AmpOptimWrapper'")
        super().__init__(**kwargs)
        self.cast_dtype = torch.bfloat16
        self.device_type = device_type

    @contextmanager
    def optim_context(self, model: nn.Module):
        """Gradient accumulation's ``no_sync`` (as ``OptimWrapper``), and
        bf16 autocast on the model's device."""
        device_type = self.device_type
        if device_type is None:
            param = next(model.parameters(), None)
            device_type = param.device.type if param is not None else 'cpu'
        with super().optim_context(model), torch.autocast(
                device_type=device_type, dtype=self.cast_dtype):
            yield
