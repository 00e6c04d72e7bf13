"""How a model runs on its device: the frozen side's precision and the
memory format of convolutional image models.

Both are decided by the device the inputs are on, at the first forward
there, never by what the machine has: a model on the CPU computes exactly
what it did before these options existed (fp32, NCHW), even on a machine
with a GPU.

- ``precision`` of a frozen model (:class:`FrozenTeacher`, the teachers of a
  :class:`JointTeacher`): ``'auto'`` runs it under bf16 autocast on CUDA
  (fp16 where the GPU has no bf16) and in fp32 elsewhere; ``'fp32'``,
  ``'bf16'``, ``'fp16'`` force one (bf16/fp16 on the CPU too: CPU autocast
  supports both). Its weights stay fp32 (checkpoints, cache identities and
  state dicts do not change); autocast casts them per call, which for
  frozen weights costs one read of them per forward.
- ``channels_last``: ``'auto'`` converts the 4-D weights of an image model
  (no segments) and its inputs to NHWC on CUDA, where cuDNN's bf16/fp16
  convolutions want it; ``True`` forces it on any device (the user's
  responsibility for models that ``view`` their maps, e.g. temporal-shift
  video backbones); ``False`` never.
"""
import contextlib
from typing import Optional, Union

import torch
import torch.nn as nn

PRECISIONS = ('auto', 'fp32', 'bf16', 'fp16')
_ALIASES = dict(float32='fp32', bfloat16='bf16', float16='fp16')
_HALF = dict(bf16=torch.bfloat16, fp16=torch.float16)
MEMORY_FORMATS = (True, False, 'auto')


def check_precision(precision: str, owner: str) -> str:
    """``precision`` in its short form ('auto', 'fp32', 'bf16', 'fp16');
    'float32', 'bfloat16' and 'float16' are accepted.

    Raises:
        ValueError: naming ``owner`` and the accepted values.
    """
    key = _ALIASES.get(precision, precision) if isinstance(
        precision, str) else precision
    if key not in PRECISIONS:
        raise ValueError(
            f'{owner}: precision must be one of {PRECISIONS} (or float32, '
            f'bfloat16, float16), got {precision!r}')
    return key


def check_channels_last(channels_last: Union[bool, str],
                        owner: str) -> Union[bool, str]:
    """``channels_last`` checked: True, False or 'auto'."""
    if isinstance(channels_last, bool) or channels_last == 'auto':
        return channels_last
    raise ValueError(f"{owner}: channels_last must be True, False or 'auto', "
                     f'got {channels_last!r}')


def half_dtype(precision: str,
               device: torch.device) -> Optional[torch.dtype]:
    """The autocast dtype of a checked ``precision`` on ``device``; None for
    fp32."""
    if precision == 'fp32':
        return None
    if precision == 'auto':
        if device.type != 'cuda':
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else \
            torch.float16
    return _HALF[precision]


def wants_channels_last(channels_last: Union[bool, str],
                        device: torch.device, image_model: bool) -> bool:
    """Whether a model runs NHWC on ``device`` (see the module docstring)."""
    if channels_last == 'auto':
        return device.type == 'cuda' and image_model
    return bool(channels_last)


def to_channels_last(module: nn.Module) -> nn.Module:
    """Make every 4-D parameter and buffer of ``module`` NHWC, in place
    (same Parameter objects, so optimisers keep them; values, keys and
    state-dict contents unchanged). 5-D weights (3-D convolutions) stay."""
    for sub in module.modules():
        for group in (sub._parameters, sub._buffers):
            for tensor in group.values():
                if tensor is not None and tensor.dim() == 4:
                    tensor.data = tensor.data.contiguous(
                        memory_format=torch.channels_last)
    return module


def as_channels_last(tensor: torch.Tensor) -> torch.Tensor:
    """A 4-D tensor in NHWC (other ranks unchanged)."""
    if tensor.dim() == 4:
        return tensor.contiguous(memory_format=torch.channels_last)
    return tensor


def frozen_autocast(dtype: Optional[torch.dtype], device: torch.device):
    """The context a frozen model runs in: autocast to ``dtype`` on
    ``device``, or nothing for fp32."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def outer_autocast(device: torch.device) -> bool:
    """Whether the caller runs under autocast on ``device`` (mixed-precision
    training): then half-precision maps are what its next op wants."""
    return torch.is_autocast_enabled(device.type)


class DeviceFormat:
    """The memory format and frozen precision of one model, applied once per
    device at its first forward there.

    Args:
        owner (str): The model, for messages.
        channels_last (bool | str): See the module docstring.
        precision (str): See the module docstring; 'fp32' for a trainable
            model (its precision is the optimiser wrapper's autocast).
        image_model (bool): Whether 'auto' may make it NHWC (image models
            only: video backbones reshape their maps with ``view``).
    """

    def __init__(self, owner: str, channels_last: Union[bool, str] = 'auto',
                 precision: str = 'fp32', image_model: bool = True):
        self.owner = owner
        self.channels_last = check_channels_last(channels_last, owner)
        self.precision = check_precision(precision, owner)
        self.image_model = bool(image_model)
        self._converted = False

    def convert(self, modules, device: torch.device) -> bool:
        """Make ``modules`` NHWC (once) when wanted on ``device``; return
        whether it is."""
        if not self.channels_last_on(device):
            return False
        if not self._converted:
            for module in modules:
                if module is not None:
                    to_channels_last(module)
            self._converted = True
        return True

    def prepare(self, modules, inputs: torch.Tensor) -> torch.Tensor:
        """:meth:`convert` ``modules`` and return ``inputs``, NHWC when
        wanted on their device."""
        if self.convert(modules, inputs.device):
            return as_channels_last(inputs)
        return inputs

    def channels_last_on(self, device: torch.device) -> bool:
        return wants_channels_last(self.channels_last, device,
                                   self.image_model)

    def autocast(self, device: torch.device):
        """The frozen model's precision context on ``device``."""
        return frozen_autocast(half_dtype(self.precision, device), device)

    def half_on(self, device: torch.device) -> bool:
        return half_dtype(self.precision, device) is not None
