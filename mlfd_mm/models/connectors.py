"""Connectors: map a student feature map onto the shape of a teacher's.

A connector is a 1x1 conv + BN where the channel counts differ (the only
learnable part, on the student side, FitNet-style), followed by a spatial
alignment where the sizes differ: adaptive average pooling when the student
map is larger, bilinear interpolation otherwise. Where both match, the
connector has no parameters and returns its input.

Spatial sizes depend on the input resolution, so the alignment is decided at
each forward from the actual shapes; channel counts are fixed, so the
projection is created (or not) once.
"""
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F


def align_spatial(feat: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Resize ``feat`` (N, C, H, W) to ``size`` (H', W').

    Pooling when the map shrinks (it averages, not drops, positions);
    bilinear interpolation when it grows in either dimension.
    """
    size = tuple(int(s) for s in size)
    if tuple(feat.shape[-2:]) == size:
        return feat
    if feat.shape[-2] >= size[0] and feat.shape[-1] >= size[1]:
        return F.adaptive_avg_pool2d(feat, size)
    return F.interpolate(
        feat, size=size, mode='bilinear', align_corners=False)


class FeatureConnector(nn.Module):
    """Student map (N, C_s, H_s, W_s) -> teacher map shape (N, C_t, H_t, W_t).

    Args:
        in_channels (int): Student channels C_s.
        out_channels (int): Teacher channels C_t.
        with_norm (bool): BatchNorm after the 1x1 conv. Defaults to True.
        always_project (bool): Create the 1x1 conv even when the channels
            match (a FitNet regressor). Defaults to False.
        l2_normalize (bool): L2-normalise the student map over channels
            before projecting (AMTML-KD's hint connectors). Defaults to
            False.
        shrink_first (bool): Pool a student map that is larger than the
            teacher's down to its size before projecting, not after: the
            1x1 conv and its BatchNorm then run at the teacher's positions
            (4x fewer for a map twice the size). Not the same model: the
            BatchNorm's statistics are those of the pooled map. Defaults to
            False.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 with_norm: bool = True,
                 always_project: bool = False,
                 l2_normalize: bool = False,
                 shrink_first: bool = False):
        super().__init__()
        self.shrink_first = shrink_first
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.l2_normalize = l2_normalize
        if self.in_channels != self.out_channels or always_project:
            layers = [
                nn.Conv2d(self.in_channels, self.out_channels, 1,
                          bias=not with_norm)
            ]
            if with_norm:
                layers.append(nn.BatchNorm2d(self.out_channels))
            self.project = nn.Sequential(*layers)
        else:
            self.project = None

    @property
    def is_identity(self) -> bool:
        """True when the connector has no parameters (it may still resize)."""
        return self.project is None and not self.l2_normalize

    def forward(self, feat: torch.Tensor,
                target_size: Sequence[int]) -> torch.Tensor:
        """Args:
            feat (Tensor): (N, C_s, H_s, W_s) student map.
            target_size (Sequence[int]): (H_t, W_t) of the teacher map.

        Returns:
            Tensor: (N, C_t, H_t, W_t).
        """
        if feat.size(1) != self.in_channels:
            raise ValueError(
                f'FeatureConnector built for {self.in_channels} channels got '
                f'a map of shape {tuple(feat.shape)}')
        if self.l2_normalize:
            feat = F.normalize(feat, p=2, dim=1)
        if self.shrink_first and feat.shape[-2] >= target_size[0] and \
                feat.shape[-1] >= target_size[1]:
            feat = align_spatial(feat, target_size)
        if self.project is not None:
            feat = self.project(feat)
        return align_spatial(feat, target_size)

    def extra_repr(self) -> str:
        return (f'{self.in_channels} -> {self.out_channels}, '
                f'project={self.project is not None}, '
                f'l2_normalize={self.l2_normalize}')


def build_connectors(channel_pairs: Sequence[Tuple[int, int]],
                     **kwargs) -> nn.ModuleList:
    """One :class:`FeatureConnector` per (student, teacher) channel pair.

    Args:
        channel_pairs (Sequence[tuple[int, int]]): ``(C_s, C_t)`` of each
            distilled pair.
        **kwargs: Passed to every :class:`FeatureConnector`.

    Returns:
        nn.ModuleList: the connectors, in the order of ``channel_pairs``;
        only those whose channels differ hold parameters.
    """
    connectors: List[FeatureConnector] = [
        FeatureConnector(c_s, c_t, **kwargs) for c_s, c_t in channel_pairs
    ]
    return nn.ModuleList(connectors)
