"""FrozenTeacher: a stage-1 model reduced to a frozen multi-level feature
extractor."""
import copy
import logging
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log
from mmengine.registry import MODELS, DefaultScope
from mmengine.runner.checkpoint import CheckpointLoader

LevelSpec = Union[str, int, Sequence[int]]

# How to count the stages of a backbone whose ``out_indices`` index stages,
# keyed by class name and matched along the class's MRO so that subclasses
# (ResNet_CIFAR, ResNetV1d, ResNeXt, SEResNeXt, mmaction ResNetTSM, ...)
# are covered by their base class.
_STAGE_COUNTERS = {
    # mmpretrain and mmaction2 ResNet family
    'ResNet': lambda backbone: len(backbone.res_layers),
    'EfficientNet': lambda backbone: len(backbone.layers),
    'MobileNetV2': lambda backbone: len(backbone.layers),
    'TIMMBackbone': lambda backbone: _timm_stage_count(backbone),
}

# Default probe size when neither the caller nor the config gives one. Large
# enough that stride-32 backbones keep distinct sizes at every stage.
_DEFAULT_PROBE_SIZE = 32


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
        counter = _STAGE_COUNTERS.get(cls.__name__)
        if counter is not None:
            return counter(backbone)
    return None


def _as_dict(cfg) -> dict:
    if isinstance(cfg, ConfigDict):
        return cfg.to_dict()
    return copy.deepcopy(dict(cfg))


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


def _input_size_from_config(cfg: Optional[Config]) -> Optional[int]:
    """The evaluation crop size of a stage-1 config, where it states one."""
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


def _segments_from_config(model_cfg: dict,
                          cfg: Optional[Config]) -> Optional[int]:
    """Segments per clip of an mmaction2 config (None for images)."""
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


@MODELS.register_module()
class FrozenTeacher(nn.Module):
    """A stage-1 model, frozen, returning its features at several levels.

    The teacher keeps the backbone of its model and the mean/std of its data
    preprocessor; the neck and head are dropped unless ``with_head=True``
    (teachers that also give soft targets, as in AMTML-KD). Its multi-level
    features come from the backbone's own ``out_indices``: the backbone is
    built with every stage as an output, and a *level* is the deepest stage
    at each distinct spatial resolution, so that levels are named by spatial
    size as in the paper (28/14/7 at 224 px for a ResNet). ``'Lk'`` selects
    the k deepest levels.

    The teacher is frozen for good: ``requires_grad=False``, eval mode even
    when its parent is put in train mode (BatchNorm statistics never move),
    forward under ``torch.no_grad()``, and ``init_weights()`` does nothing.

    Args:
        config (str | dict): Path to a stage-1 config file, or a model config
            dict (with a ``backbone``), or a whole config dict (with a
            ``model``). The model is built under the config's scope: the
            model's ``_scope_``, else the file's ``default_scope``, else
            ``'mmpretrain'``.
        checkpoint (str, optional): The stage-1 checkpoint. Its ``backbone.*``
            weights must match the backbone exactly (the head's weights are
            ignored). None keeps random weights (for building configs
            without checkpoints) and logs a warning.
        name (str, optional): Name used in messages and as default dataset
            name. Defaults to the config file's stem, else the backbone type.
        levels (str | int | Sequence[int]): ``'Lk'`` for the k deepest
            levels, or explicit stage indices (the backbone's out_indices),
            e.g. ``(1, 2, 3)``. Defaults to ``'L3'``.
        num_segments (int, optional): Frames per clip for video teachers.
            Defaults to the config's ``num_segments`` (backbone or head) or
            the train pipeline's ``SampleFrames``, else 1 (images).
        input_size (int, optional): Side of the square dummy input used to
            find the stages' spatial sizes. Defaults to the config's test crop
            size, else 32.
        with_head (bool): Also keep the stage-1 neck and head (frozen, loaded
            from the checkpoint), so that :meth:`forward_with_logits` gives
            the teacher's logits too. The head receives what the stock model
            gives it: the backbone outputs at the config's own
            ``out_indices`` (the deepest stage when the config names none).
            Defaults to False.

    Inputs are raw pixels (0..255, in the channel order the data pipeline
    loaded them: what the teacher's own data preprocessor used to receive):
    ``(N, 3, H, W)`` for images, ``(B, S, 3, H, W)`` or ``(B*S, 3, H, W)``
    for video. The teacher applies its own channel flip (``to_rgb``) and
    mean/std.
    """

    def __init__(self,
                 config: Union[str, dict],
                 checkpoint: Optional[str] = None,
                 name: Optional[str] = None,
                 levels: LevelSpec = 'L3',
                 num_segments: Optional[int] = None,
                 input_size: Optional[int] = None,
                 with_head: bool = False):
        super().__init__()
        model_cfg, preprocess_cfg, scope, file_cfg = self._read_config(
            config, name)
        if 'backbone' not in model_cfg:
            raise ValueError(
                f'teacher {name or config!r}: its model config has no '
                f'`backbone` (keys: {sorted(model_cfg)}); FrozenTeacher needs '
                'a model with a backbone (ImageClassifier, Recognizer2D, ...)')
        backbone_cfg = _as_dict(model_cfg['backbone'])
        self._name = name or (
            osp.splitext(osp.basename(config))[0]
            if isinstance(config, str) else str(
                backbone_cfg.get('type', 'teacher')).split('.')[-1].lower())
        self.scope = scope
        head_cfg = model_cfg.get('head') or model_cfg.get('cls_head') or {}
        self.num_classes: Optional[int] = head_cfg.get('num_classes')

        if num_segments is None:
            num_segments = _segments_from_config(model_cfg, file_cfg)
        self._num_segments = int(num_segments or 1)
        self.input_size = int(input_size or _input_size_from_config(file_cfg)
                              or _DEFAULT_PROBE_SIZE)

        self._set_normalisation(preprocess_cfg)
        self.backbone, out_indices = self._build_backbone(
            backbone_cfg, levels)
        self.with_head = bool(with_head)
        self.neck, self.head, self._head_positions = None, None, []
        if self.with_head:
            self._build_head(model_cfg, backbone_cfg, out_indices)
        if checkpoint is None:
            print_log(
                f'teacher {self._name!r} has no checkpoint: its backbone '
                'keeps random weights',
                logger='current',
                level=logging.WARNING)
        else:
            self._load_checkpoint(checkpoint)
        self.checkpoint = checkpoint

        for param in self.parameters():
            param.requires_grad_(False)
        self.train(False)

        stage_shapes = self._probe(out_indices, self.input_size)
        self.available_levels = self._levels_by_resolution(
            out_indices, stage_shapes)
        self._levels = self._select_levels(levels, out_indices, stage_shapes)
        self._positions = [out_indices.index(i) for i in self._levels]
        self._out_channels = [stage_shapes[i][0] for i in self._levels]
        self._spatial_sizes = [tuple(stage_shapes[i][1:])
                               for i in self._levels]

    # ------------------------------------------------------------------
    # construction
    # ------------------------------------------------------------------
    @staticmethod
    def _read_config(config, name) -> Tuple[dict, dict, str, Optional[Config]]:
        """Returns (model cfg, data preprocessor cfg, scope, whole config)."""
        file_cfg = None
        if isinstance(config, str):
            if not osp.isfile(config):
                raise FileNotFoundError(
                    f'teacher {name or config!r}: config file not found: '
                    f'{config}')
            file_cfg = Config.fromfile(config)
        elif isinstance(config, dict) and 'model' in config:
            file_cfg = Config(_as_dict(config))
        elif not isinstance(config, dict):
            raise TypeError(
                f'teacher {name!r}: config must be a path or a dict, got '
                f'{type(config).__name__}')

        if file_cfg is not None:
            if 'model' not in file_cfg:
                raise ValueError(f'teacher {name or config!r}: config has '
                                 'no `model`')
            model_cfg = _as_dict(file_cfg.model)
            preprocess = (model_cfg.get('data_preprocessor')
                          or file_cfg.get('data_preprocessor') or {})
            scope = (model_cfg.get('_scope_') or file_cfg.get('default_scope')
                     or 'mmpretrain')
        else:
            model_cfg = _as_dict(config)
            preprocess = model_cfg.get('data_preprocessor') or {}
            scope = model_cfg.get('_scope_') or 'mmpretrain'
        return model_cfg, _as_dict(preprocess), scope, file_cfg

    def _set_normalisation(self, preprocess_cfg: dict):
        mean, std = preprocess_cfg.get('mean'), preprocess_cfg.get('std')
        if (mean is None) != (std is None):
            raise ValueError(
                f'teacher {self._name!r}: data_preprocessor gives only one of '
                f'mean ({mean}) and std ({std})')
        # Non-persistent: they come from the config, like in mmpretrain.
        if mean is None:
            self.register_buffer('mean', None, persistent=False)
            self.register_buffer('std', None, persistent=False)
        else:
            self.register_buffer(
                'mean', torch.tensor(mean, dtype=torch.float32).view(
                    1, -1, 1, 1), persistent=False)
            self.register_buffer(
                'std', torch.tensor(std, dtype=torch.float32).view(
                    1, -1, 1, 1), persistent=False)
        self.flip_channels = bool(
            preprocess_cfg.get('to_rgb') or preprocess_cfg.get('bgr_to_rgb')
            or preprocess_cfg.get('rgb_to_bgr'))

    def _build(self, backbone_cfg: dict) -> nn.Module:
        cfg = copy.deepcopy(backbone_cfg)
        if str(cfg.get('type', '')).split('.')[-1] == 'TIMMBackbone':
            # The checkpoint holds every weight: never download timm's.
            cfg['pretrained'] = False
        with DefaultScope.overwrite_default_scope(self.scope):
            return MODELS.build(cfg)

    def _build_backbone(self, backbone_cfg: dict,
                        levels: LevelSpec) -> Tuple[nn.Module, List[int]]:
        """Build the backbone with every stage as an output.

        Returns the backbone and its out indices. The stage count is read
        from a first build (``_STAGE_COUNTERS``); ``out_indices`` is then set
        on the config before the real build, because timm features_only
        models are only built up to their largest out index.
        """
        probe = self._build(backbone_cfg)
        num_stages = count_backbone_stages(probe)
        if num_stages is None:
            if isinstance(levels, str):
                raise ValueError(
                    f'teacher {self._name!r}: cannot tell the stages of '
                    f'backbone {type(probe).__name__} (known: '
                    f'{sorted(_STAGE_COUNTERS)}, TIMMBackbone only with '
                    'features_only=True); give explicit levels, e.g. '
                    'levels=(1, 2, 3), as indices of its out_indices')
            out_indices = sorted({int(i) for i in _as_index_list(levels)})
        else:
            out_indices = list(range(num_stages))
        del probe
        cfg = copy.deepcopy(backbone_cfg)
        cfg['out_indices'] = tuple(out_indices)
        try:
            backbone = self._build(cfg)
        except (TypeError, ValueError, AssertionError) as err:
            raise ValueError(
                f'teacher {self._name!r}: could not build backbone '
                f'{cfg.get("type")} with out_indices={tuple(out_indices)}: '
                f'{err}') from err
        return backbone, out_indices

    def _build_head(self, model_cfg: dict, backbone_cfg: dict,
                    out_indices: List[int]):
        """Build the stock neck and head, and find which backbone outputs
        the stock model hands them."""
        head_key = 'cls_head' if model_cfg.get('cls_head') else 'head'
        if not model_cfg.get(head_key):
            raise ValueError(
                f'teacher {self._name!r}: with_head=True but its model '
                f'config has no `head` nor `cls_head` (keys: '
                f'{sorted(model_cfg)})')
        stock = backbone_cfg.get('out_indices')
        if stock is None:
            stock = [out_indices[-1]]
        stock = [int(i) for i in ([stock] if isinstance(stock, int) else
                                  stock)]
        stock = [i + len(out_indices) if i < 0 else i for i in stock]
        missing = [i for i in stock if i not in out_indices]
        if missing:
            raise ValueError(
                f'teacher {self._name!r}: the head takes backbone stages '
                f'{missing}, which the backbone does not have (stages '
                f'{out_indices})')
        self._head_positions = [out_indices.index(i) for i in stock]
        self._head_key = head_key
        # mmaction2 backbones return a bare tensor for one out index.
        self._bare_head_input = head_key == 'cls_head'
        if model_cfg.get('neck'):
            self.neck = self._build(_as_dict(model_cfg['neck']))
        self.head = self._build(_as_dict(model_cfg[head_key]))

    def _load_checkpoint(self, checkpoint: str):
        if '://' not in checkpoint and not osp.isfile(checkpoint):
            raise FileNotFoundError(
                f'teacher {self._name!r}: checkpoint file not found: '
                f'{checkpoint}')
        loaded = CheckpointLoader.load_checkpoint(
            checkpoint, map_location='cpu')
        state = loaded.get('state_dict', loaded) if isinstance(
            loaded, dict) else loaded
        if not isinstance(state, dict):
            raise RuntimeError(
                f'teacher {self._name!r}: checkpoint {checkpoint} holds no '
                'state dict')
        state = {(k[len('module.'):] if k.startswith('module.') else k): v
                 for k, v in state.items()}
        if self.with_head:
            parts = [('neck', self.neck), (self._head_key, self.head)]
            for prefix, module in parts:
                if module is not None:
                    self._load_part(module, prefix, {
                        k[len(prefix) + 1:]: v for k, v in state.items()
                        if k.startswith(prefix + '.')}, checkpoint)
        if any(k.startswith('backbone.') for k in state):
            state = {k[len('backbone.'):]: v for k, v in state.items()
                     if k.startswith('backbone.')}
        self._load_part(self.backbone, 'backbone', state, checkpoint)

    def _load_part(self, module: nn.Module, part: str, state: dict,
                   checkpoint: str):
        """Load ``state`` into ``module`` strictly, naming what differs."""
        own = module.state_dict()
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        shapes = [
            f'{k} (checkpoint {tuple(state[k].shape)}, model '
            f'{tuple(own[k].shape)})' for k in own
            if k in state and hasattr(state[k], 'shape')
            and state[k].shape != own[k].shape
        ]
        if missing or unexpected or shapes:
            parts = []
            for label, keys in (('missing', missing),
                                ('unexpected', unexpected),
                                ('shape mismatch', shapes)):
                if keys:
                    more = (f' and {len(keys) - 5} more'
                            if len(keys) > 5 else '')
                    parts.append(f'{label} ({len(keys)}): '
                                 f'{", ".join(keys[:5])}{more}')
            raise RuntimeError(
                f'teacher {self._name!r}: checkpoint {checkpoint} does not '
                f'match its {part} {type(module).__name__}: '
                + '; '.join(parts))
        module.load_state_dict(state, strict=True)

    @torch.no_grad()
    def _probe(self, out_indices: List[int],
               size: int) -> Dict[int, Tuple[int, int, int]]:
        """(C, H, W) of every built stage for a ``size`` x ``size`` input."""
        # One clip: temporal-shift backbones need whole clips.
        dummy = torch.rand(self._num_segments, 3, size, size) * 255
        outs = self.backbone(self._normalise(dummy))
        if isinstance(outs, torch.Tensor):
            outs = (outs, )
        if len(outs) != len(out_indices) or any(
                not isinstance(o, torch.Tensor) or o.dim() != 4
                for o in outs):
            raise ValueError(
                f'teacher {self._name!r}: backbone {type(self.backbone)} '
                f'built with out_indices={tuple(out_indices)} did not return '
                f'one (N, C, H, W) map per index')
        return {i: tuple(o.shape[1:]) for i, o in zip(out_indices, outs)}

    @staticmethod
    def _levels_by_resolution(
            out_indices: List[int],
            stage_shapes: Dict[int, Tuple[int, int, int]]) -> Dict[str, int]:
        """``{'L1': deepest level's stage, 'L2': ..., ...}``."""
        last_at_size = []
        for pos, i in enumerate(out_indices):
            is_last = (pos == len(out_indices) - 1
                       or stage_shapes[out_indices[pos + 1]][1:]
                       != stage_shapes[i][1:])
            if is_last:
                last_at_size.append(i)
        return {f'L{k}': i for k, i in enumerate(reversed(last_at_size), 1)}

    def _valid_levels_text(self, stage_shapes) -> str:
        named = ', '.join(
            f'{key}=stage {i} ({stage_shapes[i][1]}x{stage_shapes[i][2]})'
            for key, i in sorted(self.available_levels.items(),
                                 key=lambda kv: int(kv[0][1:])))
        stages = sorted(stage_shapes)
        return (f'valid levels for teacher {self._name!r}: '
                f"'L1'..'L{len(self.available_levels)}' ({named} at "
                f'{self.input_size} px input), or stage indices '
                f'{stages[0]}..{stages[-1]}')

    def _select_levels(self, levels: LevelSpec, out_indices: List[int],
                       stage_shapes) -> List[int]:
        if isinstance(levels, str):
            key = levels.strip().upper()
            count = key[1:]
            if not (key.startswith('L') and count.isdigit()
                    and 1 <= int(count) <= len(self.available_levels)):
                raise ValueError(f'unknown level {levels!r}; '
                                 + self._valid_levels_text(stage_shapes))
            deepest = [self.available_levels[f'L{k}']
                       for k in range(int(count), 0, -1)]
            return deepest
        chosen = sorted({int(i) for i in _as_index_list(levels)})
        bad = [i for i in chosen if i not in out_indices]
        if bad or not chosen:
            raise ValueError(f'unknown level(s) {bad or levels}; '
                             + self._valid_levels_text(stage_shapes))
        return chosen

    # ------------------------------------------------------------------
    # frozen behaviour
    # ------------------------------------------------------------------
    def train(self, mode: bool = True) -> 'FrozenTeacher':
        """Stay in eval mode whatever ``mode`` is: BN statistics are frozen."""
        return super().train(False)

    def init_weights(self):
        """Do nothing: the weights come from the checkpoint."""

    # ------------------------------------------------------------------
    # forward
    # ------------------------------------------------------------------
    def _normalise(self, frames: torch.Tensor) -> torch.Tensor:
        if not frames.is_floating_point():
            frames = frames.float()
        if self.flip_channels and frames.size(1) == 3:
            frames = frames.flip(1)
        if self.mean is not None:
            frames = (frames - self.mean) / self.std
        return frames

    def _frames(self, inputs: torch.Tensor) -> torch.Tensor:
        """(B, S, 3, H, W) or (B*S, 3, H, W) -> (B*S, 3, H, W)."""
        segments = self._num_segments
        if inputs.dim() == 5:
            if inputs.size(1) != segments:
                raise ValueError(
                    f'teacher {self._name!r} expects clips of {segments} '
                    f'segments but got {inputs.size(1)} '
                    f'(input shape {tuple(inputs.shape)})')
            return inputs.flatten(0, 1)
        if inputs.dim() != 4:
            raise ValueError(
                f'teacher {self._name!r}: inputs must be (N, 3, H, W) or '
                f'(B, S, 3, H, W), got shape {tuple(inputs.shape)}')
        if inputs.size(0) % segments:
            raise ValueError(
                f'teacher {self._name!r} expects clips of {segments} '
                f'segments but got {inputs.size(0)} frames, not a multiple')
        return inputs

    def forward(self, inputs: torch.Tensor) -> List[torch.Tensor]:
        """Features at the chosen levels.

        Args:
            inputs (Tensor): Raw pixels, (N, 3, H, W), (B, S, 3, H, W) or
                (B*S, 3, H, W).

        Returns:
            list[Tensor]: One (B*S, C_l, H_l, W_l) map per level, shallow to
            deep.
        """
        with torch.no_grad():
            outs = self.backbone(self._normalise(self._frames(inputs)))
            if isinstance(outs, torch.Tensor):
                outs = (outs, )
            return [outs[p] for p in self._positions]

    def forward_with_logits(
            self, inputs: torch.Tensor
    ) -> Tuple[List[torch.Tensor], torch.Tensor]:
        """Features at the chosen levels and the stage-1 model's logits,
        from one backbone pass (needs ``with_head=True``).

        Args:
            inputs (Tensor): Raw pixels, as for :meth:`forward`.

        Returns:
            tuple: the features (as :meth:`forward`) and the logits,
            (N, num_classes) for images, (B, num_classes) for clips (the
            head's segmental consensus).
        """
        if not self.with_head:
            raise RuntimeError(
                f'teacher {self._name!r} was built without its head: give '
                'with_head=True to get its logits')
        with torch.no_grad():
            outs = self.backbone(self._normalise(self._frames(inputs)))
            if isinstance(outs, torch.Tensor):
                outs = (outs, )
            head_input = tuple(outs[p] for p in self._head_positions)
            if self._bare_head_input and len(head_input) == 1:
                head_input = head_input[0]
            if self.neck is not None:
                head_input = self.neck(head_input)
            if self._head_key == 'cls_head':
                logits = self.head(head_input, num_segs=self._num_segments)
            else:
                logits = self.head(head_input)
            return [outs[p] for p in self._positions], logits

    @torch.no_grad()
    def feature_shapes(self, input_size: int) -> List[Tuple[int, int, int]]:
        """(C, H, W) of each level for a square input of ``input_size``."""
        dummy = torch.zeros(self._num_segments, 3, input_size, input_size,
                            device=next(self.backbone.parameters()).device)
        return [tuple(f.shape[1:]) for f in self(dummy)]

    # ------------------------------------------------------------------
    # properties
    # ------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name

    @property
    def levels(self) -> List[int]:
        """The chosen stages (indices of the backbone's out_indices)."""
        return list(self._levels)

    @property
    def out_channels(self) -> List[int]:
        return list(self._out_channels)

    @property
    def spatial_sizes(self) -> List[Tuple[int, int]]:
        """(H, W) of each level at ``input_size``."""
        return list(self._spatial_sizes)

    @property
    def num_segments(self) -> int:
        return self._num_segments

    def extra_repr(self) -> str:
        return (f'name={self._name!r}, levels={self._levels}, '
                f'out_channels={self._out_channels}, '
                f'num_segments={self._num_segments}, '
                f'with_head={self.with_head}')


def _as_index_list(levels) -> List[int]:
    if isinstance(levels, int):
        return [levels]
    try:
        return [int(i) for i in levels]
    except (TypeError, ValueError) as err:
        raise ValueError(
            f'levels must be "Lk" or stage indices, got {levels!r}') from err
