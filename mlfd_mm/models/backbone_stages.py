"""The stages of a backbone, and levels named by spatial resolution.

A backbone's *stages* are the range of its ``out_indices``; a *level* is the
deepest stage at each distinct spatial resolution, so that levels are named
by size as in the MLFD paper (28/14/7 at 224 px for a ResNet): ``'L1'`` is
the deepest, ``'Lk'`` selects the k deepest.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch.nn as nn

LevelSpec = Union[str, int, Sequence[int]]
StageShapes = Dict[int, Tuple[int, int, int]]

# How to count the stages of a backbone whose ``out_indices`` index stages,
# keyed by class name and matched along the class's MRO so that subclasses
# (ResNet_CIFAR, ResNetV1d, ResNeXt, SEResNeXt, mmaction ResNetTSM, ...)
# are covered by their base class.
STAGE_COUNTERS = {
    # mmpretrain and mmaction2 ResNet family
    'ResNet': lambda backbone: len(backbone.res_layers),
    'EfficientNet': lambda backbone: len(backbone.layers),
    'MobileNetV2': lambda backbone: len(backbone.layers),
    # mmpretrain ShuffleNetV2: three stages and the final 1x1 conv
    'ShuffleNetV2': lambda backbone: len(backbone.layers),
    'TIMMBackbone': lambda backbone: _timm_stage_count(backbone),
}


def _timm_stage_count(backbone) -> Optional[int]:
    # Only features_only timm models have stage outputs (``feature_info``
    # lists every stage, whatever out_indices the model was built with).
    info = getattr(backbone.timm_model, 'feature_info', None)
    stages = getattr(info, 'info', None)
    return len(stages) if stages else None


def count_backbone_stages(backbone: nn.Module) -> Optional[int]:
    """The number of stages of a known backbone family (the range of its
    ``out_indices``), or None for a family this module does not know."""
    for cls in type(backbone).__mro__:
        counter = STAGE_COUNTERS.get(cls.__name__)
        if counter is not None:
            return counter(backbone)
    return None


def as_index_list(levels) -> List[int]:
    """Stage indices from an int or a sequence of ints."""
    if isinstance(levels, int):
        return [levels]
    try:
        return [int(i) for i in levels]
    except (TypeError, ValueError) as err:
        raise ValueError(
            f'levels must be "Lk" or stage indices, got {levels!r}') from err


def levels_by_resolution(out_indices: List[int],
                         stage_shapes: StageShapes) -> Dict[str, int]:
    """``{'L1': deepest level's stage, 'L2': ..., ...}``.

    Args:
        out_indices (list[int]): The stages, shallow to deep.
        stage_shapes (dict): (C, H, W) of each stage.
    """
    last_at_size = []
    for pos, i in enumerate(out_indices):
        is_last = (pos == len(out_indices) - 1
                   or stage_shapes[out_indices[pos + 1]][1:]
                   != stage_shapes[i][1:])
        if is_last:
            last_at_size.append(i)
    return {f'L{k}': i for k, i in enumerate(reversed(last_at_size), 1)}
