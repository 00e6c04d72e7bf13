"""DistilledStudent: the student side of a distiller, written once.

A distilled student is a stock mmpretrain classifier or mmaction2
recognizer, built from its own config and exported as it is. The distiller
adds three things around it, none of which changes its weights or keys:
the normalisation of raw pixels (the distiller's data preprocessor leaves
them raw for the teachers), the extra backbone stages that feature
distillation reads, and a record of its logits and stage maps on each
forward.
"""
import copy
from typing import Callable, Dict, List, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmengine.registry import MODELS, DefaultScope

from ...config import as_dict, model_scope, resolve_model_config
from ..device_format import DeviceFormat
from ..normalise import PixelNormaliser
from ..backbone_stages import count_backbone_stages

# The student's own data preprocessor type, per toolbox, when no config
# names one.
_DEFAULT_PREPROCESSOR = dict(
    mmpretrain='ClsDataPreprocessor', mmaction='ActionDataPreprocessor')

# Side of the zero image pushed through the student backbone once at
# construction to read its stages' channel counts (and, for
# ``distill='auto'``, their relative resolutions).
_PROBE_SIZE = 64

# ``choose_stages(student stages or None) -> stages to record``.
StageChooser = Callable[[Optional[List[int]]], List[int]]


def resolve_student_config(student: Union[str, dict]) -> dict:
    """The student model config, from a dict or a config file.

    Args:
        student (str | dict): A model config, or the path of a config file
            whose ``model`` is the student (typically the dataset's stage-1
            teacher config: same architecture, trained afresh). From a file,
            the file's top-level ``data_preprocessor`` becomes the model's
            (as mmengine's Runner does) and its ``default_scope`` the
            model's ``_scope_`` unless the model has them.

    Returns:
        dict: A plain copy of the model config.
    """
    model, _ = resolve_model_config(student, 'student')
    return model


def student_data_preprocessor(student: dict,
                              data_preprocessor: Optional[dict] = None,
                              scope: Optional[str] = None) -> dict:
    """The data preprocessor the student is trained (and exported) with.

    The distiller's ``data_preprocessor`` (in a full config: the dataset
    config's top-level ``data_preprocessor``, which mmengine's Runner merges
    into the model config) gives the defaults; keys of the student config's
    own ``data_preprocessor`` (mean, std, to_rgb, ...) override them.

    Args:
        student (dict): The student model config.
        data_preprocessor (dict, optional): The distiller's data preprocessor
            config.
        scope (str, optional): Toolbox of the student; defaults to the
            student's ``_scope_``.

    Returns:
        dict: A stock data-preprocessor config (with ``type``).
    """
    scope = scope or model_scope(student)
    merged = {}
    if isinstance(data_preprocessor, dict):
        merged.update(as_dict(data_preprocessor))
    if isinstance(student.get('data_preprocessor'), dict):
        merged.update(as_dict(student['data_preprocessor']))
    merged.pop('_scope_', None)
    merged.setdefault('type',
                      _DEFAULT_PREPROCESSOR.get(scope, 'ClsDataPreprocessor'))
    return merged


def raw_data_preprocessor(student_preprocessor: dict, scope: str) -> dict:
    """The distiller's own preprocessor: the student's, minus normalisation
    and channel flip, so the teachers receive raw 0..255 pixels in the order
    the pipeline loaded them (each frozen teacher normalises itself). Batch
    augmentations stay: teachers and student see the same mixed images.
    """
    raw = copy.deepcopy(student_preprocessor)
    raw.update(mean=None, std=None)
    for key in ('to_rgb', 'bgr_to_rgb', 'rgb_to_bgr'):
        if key in raw:
            raw[key] = False
    raw['_scope_'] = scope
    return raw


class _StudentTap:
    """Forward hooks on the student that keep the stock data flow.

    The student backbone is built with more ``out_indices`` than the stock
    model; the backbone hook records every output (the distilled stages) and
    hands the neck/head exactly what the stock backbone would return. The
    head hook records the student's logits.

    Args:
        built_indices (list[int]): Sorted out_indices the backbone was built
            with (its outputs come in this order).
        stock_indices (list[int]): The student config's own out_indices.
        bare_single_output (bool): Whether the stock backbone returns a bare
            tensor, not a 1-tuple, for a single out index (mmaction2).
    """

    def __init__(self, built_indices: List[int], stock_indices: List[int],
                 bare_single_output: bool):
        self.built_indices = list(built_indices)
        self.stock_positions = [built_indices.index(i) for i in stock_indices]
        self.bare_single_output = bare_single_output
        self.features: Dict[int, torch.Tensor] = {}
        self.logits: Optional[torch.Tensor] = None

    def backbone_hook(self, module, args, output):
        outs = (output, ) if isinstance(output, torch.Tensor) else tuple(
            output)
        self.features = dict(zip(self.built_indices, outs))
        stock = tuple(outs[p] for p in self.stock_positions)
        if self.bare_single_output and len(stock) == 1:
            return stock[0]
        return stock

    def head_hook(self, module, args, output):
        self.logits = output


def _head_of(model: nn.Module) -> nn.Module:
    # mmpretrain classifiers call it ``head``, mmaction2 ``cls_head``.
    head = getattr(model, 'head', None) or getattr(model, 'cls_head', None)
    if head is None:
        raise ValueError(
            f'student {type(model).__name__} has no head: distillation needs '
            'a classifier')
    return head


@torch.no_grad()
def _probe(backbone: nn.Module):
    """Run a zero image (one clip for temporal-shift backbones)."""
    was_training = backbone.training
    backbone.train(False)  # leave BN statistics untouched
    frames = int(getattr(backbone, 'num_segments', 1) or 1)
    try:
        return backbone(torch.zeros(frames, 3, _PROBE_SIZE, _PROBE_SIZE))
    finally:
        backbone.train(was_training)


class DistilledStudent:
    """The student of a distiller: a stock model, its input normalisation
    and the stage maps it gives on each forward.

    Built in two steps because the distillers draw their teachers' random
    weights first: the constructor reads the configs (no weights), and
    :meth:`build` builds the model once the distiller knows which stages it
    reads. The distiller registers :attr:`model` (its ``student``, keys
    stock) and :attr:`normaliser` (no state) as its own submodules; this
    object only holds them.

    Args:
        config (dict | str): A stock mmpretrain ImageClassifier or mmaction2
            recognizer config, or a config file whose ``model`` it is (see
            :func:`resolve_student_config`).
        data_preprocessor (dict, optional): The distiller's data preprocessor
            config; see :func:`student_data_preprocessor`.
        channels_last (bool | str): NHWC weights and inputs: ``'auto'`` on
            CUDA for an mmpretrain (image) student, True always, False
            never (see :mod:`mlfd_mm.models.device_format`). The student's
            precision is the training's (``--amp``). Defaults to ``'auto'``.

    Attributes:
        config (dict): The resolved stock model config.
        scope (str): Its toolbox (``'mmpretrain'``, ``'mmaction'``).
        preprocessor (dict): Its stock data preprocessor config.
        raw_preprocessor (dict): The distiller's (no mean/std, no flip).
        normaliser (PixelNormaliser): Raw pixels -> student input.
        model (nn.Module): The student, after :meth:`build`.
        stages (list[int] | None): Its backbone's stages (``out_indices``
            numbering), None when the count cannot be read.
        stage_channels (dict[int, int]): Channels of every recorded stage.
        stage_sizes (dict[int, tuple[int, int]]): (H, W) of every recorded
            stage on the probe image.
    """

    def __init__(self, config: Union[dict, str],
                 data_preprocessor: Optional[dict] = None,
                 channels_last: Union[bool, str] = 'auto'):
        self.config = resolve_student_config(config)
        self.scope = model_scope(self.config)
        self.device_format = DeviceFormat(
            'student', channels_last, 'fp32',
            image_model=self.scope == 'mmpretrain')
        self.preprocessor = student_data_preprocessor(
            self.config, data_preprocessor, self.scope)
        self.raw_preprocessor = raw_data_preprocessor(self.preprocessor,
                                                      self.scope)
        self.normaliser = PixelNormaliser.from_preprocessor(
            self.preprocessor, what='student')
        self.model: Optional[nn.Module] = None
        self.stages: Optional[List[int]] = None
        self.stage_channels: Dict[int, int] = {}
        self.stage_sizes: Dict[int, Tuple[int, int]] = {}
        self._tap: Optional[_StudentTap] = None

    # ------------------------------------------------------------------
    # construction
    # ------------------------------------------------------------------
    def _build_stock(self, config: dict) -> nn.Module:
        with DefaultScope.overwrite_default_scope(self.scope):
            return MODELS.build(copy.deepcopy(config))

    def build(self, choose_stages: StageChooser) -> nn.Module:
        """Build the student with the stages the distiller reads as extra
        backbone outputs.

        The stock model is built once to read its stages, then again with
        them: two builds, so the random draws (and a seed's initial
        weights) are those the distillers have always made.

        Args:
            choose_stages (Callable): ``choose_stages(stages)``, given the
                backbone's stages (or None), returns the stages to record;
                it raises on a stage it cannot accept.

        Returns:
            nn.Module: The student (also :attr:`model`).
        """
        stock = self._build_stock(self.config)
        backbone = stock.backbone
        stock_indices = (self.config.get('backbone') or {}).get(
            'out_indices', getattr(backbone, 'out_indices', None))
        if stock_indices is None:
            raise ValueError(
                f'student backbone {type(backbone).__name__} has no '
                'out_indices: distillation takes multi-level features from '
                'them')
        stock_indices = [int(i) for i in (
            [stock_indices] if isinstance(stock_indices, int)
            else stock_indices)]
        num_stages = count_backbone_stages(backbone)
        self.stages = list(range(num_stages)) if num_stages else None
        bare_single_output = isinstance(_probe(backbone), torch.Tensor)
        del stock

        wanted = choose_stages(self.stages)
        built = sorted(set(stock_indices) | set(wanted))
        if self.stages is not None:
            for stage in wanted:
                if stage not in self.stages:
                    raise ValueError(
                        f'distill: student stage {stage} does not exist; the '
                        f'student backbone {type(backbone).__name__} has '
                        f'stages {self.stages}')
        model_cfg = copy.deepcopy(self.config)
        model_cfg['backbone']['out_indices'] = tuple(built)
        try:
            model = self._build_stock(model_cfg)
        except (AssertionError, IndexError, ValueError) as err:
            raise ValueError(
                f'distill: could not build the student backbone '
                f'{type(backbone).__name__} with out_indices={tuple(built)} '
                f'(stock {tuple(stock_indices)} plus the distilled stages): '
                f'{err}') from err
        self._tap = _StudentTap(built, stock_indices, bare_single_output)
        model.backbone.register_forward_hook(self._tap.backbone_hook)
        _head_of(model).register_forward_hook(self._tap.head_hook)

        _probe(model.backbone)
        self.stage_channels = {
            i: f.size(1) for i, f in self._tap.features.items()}
        self.stage_sizes = {
            i: tuple(f.shape[-2:]) for i, f in self._tap.features.items()}
        self.model = model
        return model

    @property
    def num_classes(self) -> Optional[int]:
        """The classes of the student's head (None if it does not say)."""
        classes = getattr(_head_of(self.model), 'num_classes', None)
        return None if classes is None else int(classes)

    # ------------------------------------------------------------------
    # forward
    # ------------------------------------------------------------------
    @property
    def features(self) -> Dict[int, torch.Tensor]:
        """Maps of every recorded stage from the last forward, by stage:
        (N*S, C, H, W)."""
        return self._tap.features

    @property
    def logits(self) -> Optional[torch.Tensor]:
        """The head's output of the last forward."""
        return self._tap.logits

    def inputs(self, raw: torch.Tensor) -> torch.Tensor:
        """Raw pixels -> the student's input (channel flip, mean/std), on
        their device; NHWC where the student runs so (its weights are made
        NHWC at the first such call, the pixels before they are
        normalised)."""
        if self.model is not None:
            raw = self.device_format.prepare([self.model], raw)
        return self.normaliser(raw)

    def _logits_kwargs(self) -> dict:
        # mmaction2 recognizers return backbone features in tensor mode
        # unless asked for the head's output.
        return dict(stage='head') if hasattr(self.model, 'cls_head') else {}

    def forward_tensor(self, inputs: torch.Tensor) -> torch.Tensor:
        """The student's logits for normalised ``inputs``; :attr:`features`
        holds its stage maps afterwards."""
        return self.model(inputs, mode='tensor', **self._logits_kwargs())

    def run(self, inputs: torch.Tensor,
            data_samples: Optional[list] = None):
        """Run the student on normalised ``inputs``.

        Args:
            inputs (Tensor): (N, C, H, W) or clips, normalised.
            data_samples (list, optional): Labelled samples: the head's own
                losses are computed. Without, features only.

        Returns:
            tuple: ``(losses, logits, features)``: the head's loss dict
            (empty without samples), its logits (None without samples) and
            the maps by stage; ``({}, None, None)`` for an empty batch.
        """
        if inputs.size(0) == 0:
            return {}, None, None
        if data_samples is None:
            self.forward_tensor(inputs)
            return {}, None, self.features
        losses = self.model(inputs, data_samples, mode='loss')
        return losses, self.logits, self.features

    def predict(self, inputs: torch.Tensor,
                data_samples: Optional[list] = None) -> list:
        """The stock model's predictions for normalised ``inputs``."""
        return self.model(inputs, data_samples, mode='predict')
