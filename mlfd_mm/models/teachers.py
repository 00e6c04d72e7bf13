"""FrozenTeacher: a stage-1 model reduced to a frozen multi-level feature
extractor."""
import logging
import os.path as osp
from typing import List, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.registry import MODELS
from mmengine.runner.checkpoint import CheckpointLoader

from ..checkpoint import (load_checkpoint_file, load_state_dict_strict,
                          state_dict_of)
from ..config import as_dict
from .device_format import DeviceFormat, outer_autocast
from .backbone_stages import (LevelSpec, StageShapes,
                              as_index_list, count_backbone_stages,
                              levels_by_resolution)
from .normalise import PixelNormaliser
from .stage1_inputs import input_size_from_config, segments_from_config
from .teacher_building import TeacherBuilding

__all__ = ['FrozenTeacher', 'LevelSpec', 'count_backbone_stages']

# Default probe size when neither the caller nor the config gives one. Large
# enough that stride-32 backbones keep distinct sizes at every stage.
_DEFAULT_PROBE_SIZE = 32


@MODELS.register_module()
class FrozenTeacher(TeacherBuilding, nn.Module):
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
        allow_unsafe_checkpoint (bool): Unpickle ``checkpoint`` without the
            allowlist, for a legacy file that the safe loader
            refuses (:func:`mlfd_mm.checkpoint.load_checkpoint_file`). The
            file may then run any code: only for a checkpoint you made or
            trust. Defaults to False.
        precision (str): ``'auto'`` (bf16 autocast on CUDA, fp16 where the
            GPU lacks bf16; fp32 elsewhere), ``'fp32'``, ``'bf16'`` or
            ``'fp16'``; see :mod:`mlfd_mm.models.device_format`. The weights
            stay fp32; the features come out fp32 unless the caller runs
            under autocast itself. Defaults to ``'auto'``.
        channels_last (bool | str): NHWC weights and inputs: ``'auto'`` on
            CUDA for image teachers (one segment), True always, False
            never. Defaults to ``'auto'``.

    On the CPU with the defaults the teacher computes exactly what it
    computed before these two options existed (fp32, NCHW).

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
                 with_head: bool = False,
                 allow_unsafe_checkpoint: bool = False,
                 precision: str = 'auto',
                 channels_last: Union[bool, str] = 'auto'):
        super().__init__()
        model_cfg, preprocess_cfg, scope, file_cfg = self._read_config(
            config, name)
        if 'backbone' not in model_cfg:
            raise ValueError(
                f'teacher {name or config!r}: its model config has no '
                f'`backbone` (keys: {sorted(model_cfg)}); FrozenTeacher needs '
                'a model with a backbone (ImageClassifier, Recognizer2D, ...)')
        backbone_cfg = as_dict(model_cfg['backbone'])
        self._name = name or (
            osp.splitext(osp.basename(config))[0]
            if isinstance(config, str) else str(
                backbone_cfg.get('type', 'teacher')).split('.')[-1].lower())
        self.scope = scope
        head_cfg = model_cfg.get('head') or model_cfg.get('cls_head') or {}
        self.num_classes: Optional[int] = head_cfg.get('num_classes')

        if num_segments is None:
            num_segments = segments_from_config(model_cfg, file_cfg)
        self._num_segments = int(num_segments or 1)
        self.input_size = int(input_size or input_size_from_config(file_cfg)
                              or _DEFAULT_PROBE_SIZE)

        # Frames reach the backbone as (B*S, C, H, W): channels at dim -3.
        self.normaliser = PixelNormaliser.from_preprocessor(
            preprocess_cfg, what=f'teacher {self._name!r}', channel_dim=-3)
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
            self._load_checkpoint(checkpoint, allow_unsafe_checkpoint)
        self.checkpoint = checkpoint

        for param in self.parameters():
            param.requires_grad_(False)
        self.train(False)

        stage_shapes = self._probe(out_indices, self.input_size)
        self.available_levels = levels_by_resolution(
            out_indices, stage_shapes)
        self._levels = self._select_levels(levels, out_indices, stage_shapes)
        self._positions = [out_indices.index(i) for i in self._levels]
        self._out_channels = [stage_shapes[i][0] for i in self._levels]
        self._spatial_sizes = [tuple(stage_shapes[i][1:])
                               for i in self._levels]
        self.device_format = DeviceFormat(
            f'teacher {self._name!r}', channels_last, precision,
            image_model=self._num_segments == 1)

    # ------------------------------------------------------------------
    # construction (config reading and building: teacher_building.py)
    # ------------------------------------------------------------------
    def _load_checkpoint(self, checkpoint: str, allow_unsafe: bool):
        what = f'teacher {self._name!r}'
        if '://' in checkpoint:
            # Remote schemes (http, ...) are mmengine's to fetch.
            loaded = CheckpointLoader.load_checkpoint(
                checkpoint, map_location='cpu')
        else:
            loaded = load_checkpoint_file(
                checkpoint, what, allow_unsafe=allow_unsafe)
        if not isinstance(loaded, dict):
            raise RuntimeError(
                f'{what}: checkpoint {checkpoint} holds no state dict')
        state = whole = state_dict_of(loaded)
        what = f'{what}: checkpoint {checkpoint}'
        if self.with_head:
            parts = [('neck', self.neck), (self._head_key, self.head)]
            for prefix, module in parts:
                if module is not None:
                    load_state_dict_strict(module, {
                        k[len(prefix) + 1:]: v for k, v in state.items()
                        if k.startswith(prefix + '.')}, what, prefix, whole)
        if any(k.startswith('backbone.') for k in state):
            state = {k[len('backbone.'):]: v for k, v in state.items()
                     if k.startswith('backbone.')}
        load_state_dict_strict(self.backbone, state, what, 'backbone', whole)

    @torch.no_grad()
    def _probe(self, out_indices: List[int],
               size: int) -> StageShapes:
        """(C, H, W) of every built stage for a ``size`` x ``size`` input."""
        # One clip: temporal-shift backbones need whole clips.
        dummy = torch.rand(self._num_segments, 3, size, size) * 255
        outs = self.backbone(self.normaliser(dummy))
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
        chosen = sorted({int(i) for i in as_index_list(levels)})
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

    def _backbone_outputs(self, inputs: torch.Tensor) -> tuple:
        """Every built stage's map, in the teacher's precision and memory
        format on ``inputs.device`` (the pixels are made NHWC before they
        are normalised)."""
        frames = self.device_format.prepare(
            [self.backbone, self.neck, self.head], self._frames(inputs))
        with torch.no_grad(), self.device_format.autocast(frames.device):
            outs = self.backbone(self.normaliser(frames))
        return (outs, ) if isinstance(outs, torch.Tensor) else tuple(outs)

    def _as_output(self, tensors: List[torch.Tensor],
                   device: torch.device) -> List[torch.Tensor]:
        """fp32 maps for an fp32 caller; an autocast caller takes them as
        they come."""
        if not self.device_format.half_on(device) or outer_autocast(device):
            return list(tensors)
        return [t.float() for t in tensors]

    def forward(self, inputs: torch.Tensor) -> List[torch.Tensor]:
        """Features at the chosen levels.

        Args:
            inputs (Tensor): Raw pixels, (N, 3, H, W), (B, S, 3, H, W) or
                (B*S, 3, H, W).

        Returns:
            list[Tensor]: One (B*S, C_l, H_l, W_l) map per level, shallow to
            deep.
        """
        outs = self._backbone_outputs(inputs)
        return self._as_output([outs[p] for p in self._positions],
                               inputs.device)

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
        device = inputs.device
        outs = self._backbone_outputs(inputs)
        with torch.no_grad(), self.device_format.autocast(device):
            head_input = tuple(outs[p] for p in self._head_positions)
            if self._bare_head_input and len(head_input) == 1:
                head_input = head_input[0]
            if self.neck is not None:
                head_input = self.neck(head_input)
            if self._head_key == 'cls_head':
                logits = self.head(head_input, num_segs=self._num_segments)
            else:
                logits = self.head(head_input)
        *feats, logits = self._as_output(
            [outs[p] for p in self._positions] + [logits], device)
        return feats, logits

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
    def mean(self) -> Optional[torch.Tensor]:
        """Per-channel mean of the teacher's pixels (None: not normalised)."""
        return self.normaliser.mean

    @property
    def std(self) -> Optional[torch.Tensor]:
        return self.normaliser.std

    @property
    def flip_channels(self) -> bool:
        """Whether the teacher flips the channel order (``to_rgb``)."""
        return self.normaliser.flip_channels

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

