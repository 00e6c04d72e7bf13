"""Where each teacher map lives inside one sample's cached features, and the
optional spatial pooling applied to the maps before they are stored."""
import re
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F

DTYPES = ('float16', 'float32')

# ``pool``: None, 'min', or {'l1': 4, 'l2': (2, 2), ...}.
PoolSpec = Union[None, str, Dict[str, Union[int, Sequence[int]]]]


def normalize_pool(pool: PoolSpec, num_levels: Optional[int] = None):
    """A pooling spec in canonical form: None, ``'min'`` or
    ``{'l<k>': [h, w]}`` (levels counted from 1, shallow to deep).

    Args:
        pool: None (store the maps as they are); ``'min'`` (pool every
            teacher's map at a level to the smallest map of that level, the
            size :class:`ConcatFusionNeck` aligns to by default); or a dict
            from joint level name (``'l1'`` shallowest) or 0-based index to
            an output size (int or (h, w)).
        num_levels (int, optional): Levels of the joint teacher, to reject
            unknown level names.

    Returns:
        None | str | dict: The canonical spec (JSON-serialisable).
    """
    if pool is None or pool == {}:
        return None
    if isinstance(pool, str):
        if pool != 'min':
            raise ValueError(
                f"feature_cache.pool must be None, 'min' or a dict "
                f"{{'l1': size, ...}}, got {pool!r}")
        return 'min'
    if not isinstance(pool, dict):
        raise TypeError(f'feature_cache.pool must be None, \'min\' or a dict, '
                        f'got {type(pool).__name__}')
    spec = {}
    for key, size in pool.items():
        if isinstance(key, int):
            level = key + 1
        else:
            match = re.fullmatch(r'[lL](\d+)', str(key))
            if not match:
                raise ValueError(
                    f'feature_cache.pool: unknown level {key!r}; name levels '
                    "'l1' (shallowest) .. 'lk' (deepest)")
            level = int(match.group(1))
        if level < 1 or (num_levels is not None and level > num_levels):
            raise ValueError(
                f'feature_cache.pool: level {key!r} does not exist; the '
                f'joint teacher has levels l1..l{num_levels}')
        hw = [int(size), int(size)] if isinstance(size, int) else [
            int(s) for s in size]
        if len(hw) != 2 or min(hw) < 1:
            raise ValueError(
                f'feature_cache.pool: size of {key!r} must be an int or '
                f'(h, w) >= 1, got {size!r}')
        spec[f'l{level}'] = hw
    return dict(sorted(spec.items())) or None


def pooled_sizes(sizes: Sequence[Sequence[Tuple[int, int]]],
                 pool, names: Optional[Sequence[str]] = None
                 ) -> List[List[Tuple[int, int]]]:
    """Spatial sizes after pooling.

    Args:
        sizes: ``sizes[t][l]`` = (H, W) of teacher t's map at level l.
        pool: A canonical spec (:func:`normalize_pool`).
        names: Teacher names, for messages.

    Returns:
        list[list[tuple]]: ``out[t][l]`` = stored (H, W).
    """
    if pool is None:
        return [[tuple(s) for s in per_teacher] for per_teacher in sizes]
    num_levels = len(sizes[0])
    targets = []
    for level in range(num_levels):
        level_sizes = [tuple(per_teacher[level]) for per_teacher in sizes]
        if pool == 'min':
            targets.append(min(level_sizes, key=lambda s: s[0] * s[1]))
        else:
            target = pool.get(f'l{level + 1}')
            targets.append(tuple(target) if target is not None else None)
    out = []
    for t, per_teacher in enumerate(sizes):
        row = []
        for level, size in enumerate(per_teacher):
            target = targets[level]
            size = tuple(size)
            if target is None or target == size:
                row.append(size)
                continue
            if target[0] > size[0] or target[1] > size[1]:
                who = names[t] if names else f'teacher {t}'
                raise ValueError(
                    f'feature_cache.pool: l{level + 1} -> {target[0]}x'
                    f'{target[1]} is larger than the {size[0]}x{size[1]} map '
                    f'of teacher {who!r}; pooling only shrinks maps')
            row.append(target)
        out.append(row)
    return out


def pool_teacher_maps(feats: List[List[torch.Tensor]],
                      pool) -> List[List[torch.Tensor]]:
    """Apply a pooling spec to every teacher's maps (``feats[t][l]``,
    (N, C, H, W)); the same function serves caching and the joint teacher's
    online path, so a model trained on pooled maps sees pooled maps online
    too."""
    if pool is None:
        return feats
    sizes = [[tuple(f.shape[-2:]) for f in per_teacher]
             for per_teacher in feats]
    targets = pooled_sizes(sizes, pool)
    return [[
        f if tuple(f.shape[-2:]) == tuple(size) else F.adaptive_avg_pool2d(
            f, tuple(size)) for f, size in zip(per_teacher, row)
    ] for per_teacher, row in zip(feats, targets)]


class FeatureLayout:
    """The stored maps of one sample, in order: teacher by teacher, level by
    level (shallow to deep).

    Each (teacher, level) array holds, per sample, ``(S, C, H, W)`` for
    teachers with S > 1 segments and ``(C, H, W)`` for images. A sample's
    features travel through the data loader as ONE flat array (all maps
    concatenated) so that a batch costs one transfer per sample.

    Args:
        teachers (Sequence[str]): Teacher names.
        shapes (Sequence[Sequence[Sequence[int]]]): ``shapes[t][l]`` =
            stored per-frame (C, H, W).
        num_segments (Sequence[int]): Segments per sample of each teacher.
        dtype (str): ``'float16'`` or ``'float32'``.
    """

    def __init__(self, teachers: Sequence[str],
                 shapes: Sequence[Sequence[Sequence[int]]],
                 num_segments: Sequence[int], dtype: str):
        if dtype not in DTYPES:
            raise ValueError(f'feature cache dtype must be one of {DTYPES}, '
                             f'got {dtype!r}')
        self.teachers = list(teachers)
        self.shapes = [[tuple(int(d) for d in s) for s in per_teacher]
                       for per_teacher in shapes]
        self.num_segments = [int(s) for s in num_segments]
        self.dtype = dtype
        self.num_levels = len(self.shapes[0])
        self.entries = []  # (teacher idx, level idx, sample shape, offset)
        offset = 0
        for t, per_teacher in enumerate(self.shapes):
            segments = self.num_segments[t]
            for level, chw in enumerate(per_teacher):
                sample_shape = chw if segments == 1 else (segments, ) + chw
                self.entries.append((t, level, sample_shape, offset))
                offset += int(np.prod(sample_shape))
        self.numel = offset

    @property
    def itemsize(self) -> int:
        return np.dtype(self.dtype).itemsize

    @property
    def bytes_per_sample(self) -> int:
        return self.numel * self.itemsize

    def sample_shape(self, teacher: int, level: int) -> tuple:
        return self.entries[teacher * self.num_levels + level][2]

    def level_bytes(self, teacher: int, level: int) -> int:
        return int(np.prod(self.sample_shape(teacher, level))) * self.itemsize

    def split(self, batch: torch.Tensor) -> List[List[torch.Tensor]]:
        """(B, numel) -> ``feats[t][l]``, (B*S, C, H, W) views."""
        if batch.dim() != 2 or batch.size(1) != self.numel:
            raise ValueError(
                f'cached features of shape {tuple(batch.shape)} do not match '
                f'the cache layout ({self.numel} values per sample)')
        feats = [[] for _ in self.teachers]
        for t, level, _, offset in self.entries:
            c, h, w = self.shapes[t][level]
            size = self.num_segments[t] * c * h * w
            feats[t].append(batch[:, offset:offset + size].reshape(
                -1, c, h, w))
        return feats
