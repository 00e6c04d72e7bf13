"""ConcatFusionNeck: the feature fusion of the authors' joint teacher."""
from typing import List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmengine.registry import MODELS

from ...cache.layout import pool_teacher_maps


class _LevelFusion(nn.Module):
    """Fuse the teachers' maps of one level.

    Per teacher BN + 1x1 conv to ``width``, spatial alignment, concatenation,
    BN + GELU, (channel dropout), 1x1 conv to ``out_channels``. With
    ``shrink_first`` (``align='min'`` only) each map is pooled to the common
    size before its BN + conv instead of after.
    """

    def __init__(self, in_channels: Sequence[int], width: int,
                 out_channels: int, dropout: float, align: str,
                 shrink_first: bool = False):
        super().__init__()
        self.align = align
        self.shrink_first = shrink_first
        self.project = nn.ModuleList(
            nn.Sequential(
                nn.BatchNorm2d(c), nn.Conv2d(c, width, 1, bias=False))
            for c in in_channels)
        self.mix = nn.Sequential(
            nn.BatchNorm2d(width * len(in_channels)), nn.GELU(),
            nn.Dropout2d(dropout) if dropout > 0 else nn.Identity(),
            nn.Conv2d(width * len(in_channels), out_channels, 1))

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        if self.shrink_first:
            feats = _pool_to_smallest(feats)
        maps = [proj(f) for proj, f in zip(self.project, feats)]
        sizes = [tuple(m.shape[-2:]) for m in maps]
        if len(set(sizes)) > 1:
            if self.align == 'min':
                maps = _pool_to_smallest(maps)
            else:
                target = max(sizes, key=lambda s: s[0] * s[1])
                maps = [
                    F.interpolate(
                        m, size=target, mode='bilinear', align_corners=False)
                    if tuple(m.shape[-2:]) != target else m for m in maps
                ]
        return self.mix(torch.cat(maps, dim=1))


def _pool_to_smallest(maps: Sequence[torch.Tensor]) -> List[torch.Tensor]:
    """Adaptive-average-pool each map to the smallest map's size: the
    feature cache's ``pool='min'`` for one level."""
    return [per[0] for per in pool_teacher_maps([[m] for m in maps], 'min')]


class _Downsample(nn.Module):
    """3x3 stride-2 conv from one joint level to the next, deeper one.

    When the next level is not half the size (odd architectures, mixed
    teachers), the map is first adaptive-pooled to the target size and the
    same 3x3 kernel is applied with stride 1.
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels, out_channels, 3, stride=2, padding=1, bias=False)
        self.norm = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor, target: Sequence[int]) -> torch.Tensor:
        h, w = x.shape[-2:]
        if ((h + 1) // 2, (w + 1) // 2) == tuple(target):
            x = self.conv(x)
        else:
            x = F.adaptive_avg_pool2d(x, tuple(target))
            x = F.conv2d(x, self.conv.weight, stride=1, padding=1)
        return self.norm(x)


@MODELS.register_module()
class ConcatFusionNeck(BaseModule):
    """Fuse m teachers' multi-level features into joint multi-level features.

    For each level l (shallow to deep): every teacher's map goes through its
    own BatchNorm + 1x1 conv to ``width``; maps of different spatial sizes
    are aligned (``align='min'``: adaptive average pooling to the smallest;
    ``'max'``: bilinear interpolation to the largest); they are concatenated,
    then BN + GELU + 1x1 conv to ``out_channels[l]``. The previous joint
    level is brought to this level's size by a 3x3 stride-2 conv (+ BN) and
    added, so the deepest joint level sees every level. Pooling for the
    heads is left to the heads.

    Args:
        in_channels (list[list[int]]): Channels per level, per teacher:
            ``in_channels[l][t]``. Set by the JointTeacher.
        width (int): Common width each teacher is projected to. Defaults to
            256.
        out_channels (int | list[int], optional): Channels of each joint
            level. Defaults to ``width`` for every level.
        dropout (float): Channel dropout (Dropout2d) on the concatenated maps
            before the output conv. Defaults to 0.
        align (str): ``'min'`` or ``'max'``, see above. Defaults to ``'min'``.
        shrink_first (bool): With ``align='min'``, pool each teacher's map to
            the level's smallest size *before* its BN + 1x1 conv, not after.
            Both are per-position linear maps, so in eval mode the result is
            the same function of the same weights; in training the BN's
            batch statistics are those of the pooled map (same mean, smaller
            variance, which the conv's weights absorb). The projection then
            runs at the small size: with teachers of other strides (the
            offline set: a 16x16 level beside 4x4 ones) the neck's training
            step costs about half. Defaults to False (the runs in the README
            before it).
        init_cfg (dict | list[dict], optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: Sequence[Sequence[int]],
                 width: int = 256,
                 out_channels: Optional[Union[int, Sequence[int]]] = None,
                 dropout: float = 0.0,
                 align: str = 'min',
                 shrink_first: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None):
        super().__init__(init_cfg=init_cfg)
        if not in_channels or any(
                not isinstance(level, (list, tuple)) or not level
                for level in in_channels):
            raise ValueError(
                'ConcatFusionNeck: in_channels must list, per level, the '
                f'channels of every teacher; got {in_channels}')
        if len({len(level) for level in in_channels}) != 1:
            raise ValueError(
                'ConcatFusionNeck: every level needs one entry per teacher; '
                f'got in_channels={in_channels}')
        if align not in ('min', 'max'):
            raise ValueError(
                "ConcatFusionNeck: align must be 'min' or 'max', got "
                f'{align!r}')
        if shrink_first and align != 'min':
            raise ValueError(
                "ConcatFusionNeck: shrink_first=True pools each map to the "
                "smallest size before its projection, which needs "
                f"align='min'; got align={align!r}")
        num_levels = len(in_channels)
        if out_channels is None:
            out_channels = [width] * num_levels
        elif isinstance(out_channels, int):
            out_channels = [out_channels] * num_levels
        elif len(out_channels) != num_levels:
            raise ValueError(
                f'ConcatFusionNeck: {len(out_channels)} out_channels for '
                f'{num_levels} levels')
        self.in_channels = [list(level) for level in in_channels]
        self.out_channels = list(out_channels)
        self.width = width
        self.fusions = nn.ModuleList(
            _LevelFusion(level, width, out, dropout, align, shrink_first)
            for level, out in zip(self.in_channels, self.out_channels))
        self.downsamples = nn.ModuleList(
            _Downsample(self.out_channels[i], self.out_channels[i + 1])
            for i in range(num_levels - 1))

    def forward(
        self, feats: Sequence[Sequence[torch.Tensor]]
    ) -> tuple:
        """Fuse.

        Args:
            feats (Sequence[Sequence[Tensor]]): ``feats[l][t]`` is teacher
                t's map at level l, (B*S, C_lt, H_lt, W_lt).

        Returns:
            tuple[Tensor]: One joint map per level, (B*S, out_channels[l],
            H_l, W_l), shallow to deep.
        """
        if len(feats) != len(self.fusions):
            raise ValueError(
                f'ConcatFusionNeck: got {len(feats)} levels, built for '
                f'{len(self.fusions)}')
        joint = []
        for level, (fusion, level_feats) in enumerate(zip(self.fusions,
                                                          feats)):
            fused = fusion(level_feats)
            if joint:
                fused = fused + self.downsamples[level - 1](
                    joint[-1], fused.shape[-2:])
            joint.append(fused)
        return tuple(joint)
