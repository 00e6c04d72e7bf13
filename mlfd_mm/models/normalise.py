"""PixelNormaliser: a data preprocessor's channel flip and mean/std, as a
module that a frozen teacher or a distilled student applies to raw pixels."""
from typing import Optional, Sequence

import torch
import torch.nn as nn

# Data preprocessor keys that flip the channel order (BGR <-> RGB).
_FLIP_KEYS = ('to_rgb', 'bgr_to_rgb', 'rgb_to_bgr')
# mmaction2 clip layouts whose channels sit at dim -4, (..., C, T, H, W).
_CHANNELS_BEFORE_TIME = ('NCTHW', 'MIX2d3d')


class PixelNormaliser(nn.Module):
    """Flip the channel order and subtract mean / divide by std.

    Does what mmpretrain's and mmaction2's data preprocessors do to pixels,
    for a model that receives raw 0..255 pixels from another model's
    preprocessor (each frozen teacher, the distilled student). The mean and
    std are non-persistent buffers: they come from the config, as in
    mmpretrain, and never appear in a state dict.

    Args:
        mean (Sequence[float], optional): Per-channel mean. None (with
            ``std=None``) skips normalisation.
        std (Sequence[float], optional): Per-channel std.
        flip_channels (bool): Reverse the channel order (``to_rgb``) when the
            input has 3 channels. Defaults to False.
        channel_dim (int): The channel dimension, counted from the end: -3
            for (N, C, H, W) images and mmaction2's NCHW clips, -4 for NCTHW
            clips. Defaults to -3.
        what (str): The owner, for messages. Defaults to
            ``'data_preprocessor'``.
    """

    def __init__(self,
                 mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None,
                 flip_channels: bool = False,
                 channel_dim: int = -3,
                 what: str = 'data_preprocessor'):
        super().__init__()
        if (mean is None) != (std is None):
            raise ValueError(
                f'{what}: data_preprocessor gives only one of mean ({mean}) '
                f'and std ({std})')
        if channel_dim >= 0:
            raise ValueError(f'{what}: channel_dim counts from the end '
                             f'(-3, -4), got {channel_dim}')
        self.flip_channels = bool(flip_channels)
        self.channel_dim = int(channel_dim)
        shape = (-1, ) + (1, ) * (-self.channel_dim - 1)
        self.register_buffer(
            'mean', None if mean is None else torch.tensor(
                mean, dtype=torch.float32).view(shape), persistent=False)
        self.register_buffer(
            'std', None if std is None else torch.tensor(
                std, dtype=torch.float32).view(shape), persistent=False)

    @classmethod
    def from_preprocessor(cls,
                          cfg: Optional[dict],
                          what: str = 'data_preprocessor',
                          channel_dim: Optional[int] = None
                          ) -> 'PixelNormaliser':
        """The normaliser of a data preprocessor config.

        Args:
            cfg (dict, optional): A data preprocessor config: reads ``mean``,
                ``std``, ``to_rgb`` / ``bgr_to_rgb`` / ``rgb_to_bgr`` and
                mmaction2's ``format_shape``.
            what (str): The owner, for messages.
            channel_dim (int, optional): Overrides the channel dimension
                that ``format_shape`` implies (for a caller that reshapes
                clips to frames itself).

        Returns:
            PixelNormaliser
        """
        cfg = cfg or {}
        if channel_dim is None:
            channel_dim = -4 if cfg.get(
                'format_shape') in _CHANNELS_BEFORE_TIME else -3
        return cls(
            mean=cfg.get('mean'),
            std=cfg.get('std'),
            flip_channels=any(bool(cfg.get(key)) for key in _FLIP_KEYS),
            channel_dim=channel_dim,
            what=what)

    @property
    def normalises(self) -> bool:
        """Whether a mean/std is applied."""
        return self.mean is not None

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """Normalise raw pixels.

        Args:
            pixels (Tensor): Raw pixels with channels at ``channel_dim``,
                e.g. (N, 3, H, W).

        Returns:
            Tensor: Float pixels of the same shape, flipped and normalised.
        """
        if not pixels.is_floating_point():
            pixels = pixels.float()
        if self.flip_channels and pixels.size(self.channel_dim) == 3:
            pixels = pixels.flip(self.channel_dim)
        if self.mean is not None:
            pixels = (pixels - self.mean) / self.std
        return pixels

    def extra_repr(self) -> str:
        mean = None if self.mean is None else self.mean.flatten().tolist()
        std = None if self.std is None else self.std.flatten().tolist()
        return (f'mean={mean}, std={std}, flip_channels={self.flip_channels}'
                f', channel_dim={self.channel_dim}')
