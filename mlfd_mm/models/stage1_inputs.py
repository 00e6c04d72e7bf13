"""What a stage-1 config says about its inputs: crop size and segments."""
from typing import List, Optional, Sequence

from mmengine.config import Config


def _find_transform(pipeline, types: Sequence[str]) -> List[dict]:
    if not isinstance(pipeline, (list, tuple)):
        return []
    return [t for t in pipeline
            if isinstance(t, dict) and str(t.get('type', '')).split('.')[-1]
            in types]


def _pipeline_of(cfg: Config, split: str) -> list:
    pipeline = cfg.get(f'{split}_pipeline')
    if pipeline is None:
        loader = cfg.get(f'{split}_dataloader') or {}
        pipeline = (loader.get('dataset') or {}).get('pipeline')
    return pipeline or []


def input_size_from_config(cfg: Optional[Config]) -> Optional[int]:
    """The evaluation crop size of a stage-1 config, where it states one.

    Args:
        cfg (Config, optional): The whole stage-1 config.

    Returns:
        int | None: The side of the last crop/resize of the test (else val)
        pipeline.
    """
    if cfg is None:
        return None
    for split in ('test', 'val'):
        sizes = []
        for t in _find_transform(
                _pipeline_of(cfg, split),
                ('CenterCrop', 'Resize', 'ResizeEdge', 'RandomResizedCrop')):
            size = t.get('crop_size', t.get('scale'))
            if isinstance(size, int) and size > 0:
                sizes.append(size)
            elif (isinstance(size, (list, tuple)) and len(size) == 2
                  and min(size) > 0):
                sizes.append(max(size))
        if sizes:
            return sizes[-1]
    return None


def segments_from_config(model_cfg: dict,
                         cfg: Optional[Config]) -> Optional[int]:
    """Segments per clip of an mmaction2 config (None for images).

    Args:
        model_cfg (dict): The model config: its backbone's or head's
            ``num_segments``.
        cfg (Config, optional): The whole config: its train pipeline's
            ``SampleFrames`` (clips x frames).
    """
    for part in ('backbone', 'cls_head'):
        sub = model_cfg.get(part) or {}
        if sub.get('num_segments'):
            return int(sub['num_segments'])
    if cfg is not None:
        frames = _find_transform(
            _pipeline_of(cfg, 'train'), ('SampleFrames', ))
        if frames:
            sample = frames[-1]
            return int(sample.get('num_clips', 1)) * int(
                sample.get('clip_len', 1))
    return None
