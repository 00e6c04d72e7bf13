"""MLFDDistiller: stage 3 of MLFD, a student taught by the frozen joint
teacher through soft targets and multi-level feature distillation."""
import copy
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log
from mmengine.model import BaseModel
from mmengine.registry import MODELS, DefaultScope
from mmengine.runner.checkpoint import CheckpointLoader, load_checkpoint

from ..connectors import build_connectors
from ..losses import FeatureMSELoss, KDLoss
from ..teachers import count_backbone_stages

DEFAULT_LOSS_WEIGHTS = dict(kd=0.6, feature=0.2, ce=0.2)

# The student's own data preprocessor type, per toolbox, when no config
# names one.
_DEFAULT_PREPROCESSOR = dict(
    mmpretrain='ClsDataPreprocessor', mmaction='ActionDataPreprocessor')

# Side of the zero image pushed through the student backbone once at
# construction to read its stages' channel counts (and, for
# ``distill='auto'``, their relative resolutions).
_PROBE_SIZE = 64


def _as_dict(cfg) -> dict:
    if isinstance(cfg, ConfigDict):
        return cfg.to_dict()
    return copy.deepcopy(dict(cfg))


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
        dict: A model config with ``_scope_``.
    """
    if isinstance(student, str):
        if not osp.isfile(student):
            raise FileNotFoundError(
                f'student: config file not found: {student}')
        file_cfg = Config.fromfile(student)
        if 'model' not in file_cfg:
            raise KeyError(f'student: {student} has no `model`')
        model = _as_dict(file_cfg.model)
        if not model.get('data_preprocessor') and file_cfg.get(
                'data_preprocessor'):
            model['data_preprocessor'] = _as_dict(file_cfg.data_preprocessor)
        if not model.get('_scope_') and file_cfg.get('default_scope'):
            model['_scope_'] = file_cfg.default_scope
        return model
    if not isinstance(student, dict):
        raise TypeError('student must be a model config dict or a config '
                        f'file path, got {type(student).__name__}')
    return _as_dict(student)


def student_scope(student: dict, default: Optional[str] = None) -> str:
    """The toolbox scope of a student model config ('mmpretrain', ...)."""
    if student.get('_scope_'):
        return student['_scope_']
    if default:
        return default
    current = DefaultScope.get_current_instance()
    return current.scope_name if current is not None else 'mmpretrain'


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
    scope = scope or student_scope(student)
    merged = {}
    if isinstance(data_preprocessor, dict):
        merged.update(_as_dict(data_preprocessor))
    if isinstance(student.get('data_preprocessor'), dict):
        merged.update(_as_dict(student['data_preprocessor']))
    merged.pop('_scope_', None)
    merged.setdefault('type',
                      _DEFAULT_PREPROCESSOR.get(scope, 'ClsDataPreprocessor'))
    return merged


def check_loss_weights(loss_weights: Optional[dict], defaults: dict,
                       owner: str) -> Dict[str, float]:
    """``defaults`` updated by ``loss_weights``; an unknown or negative
    weight is an error naming ``owner`` (the distiller) and the losses."""
    weights = dict(defaults)
    unknown = sorted(set(loss_weights or {}) - set(weights))
    if unknown:
        raise KeyError(f'{owner}: unknown loss_weights {unknown}; the losses '
                       f'are {sorted(weights)}')
    weights.update({k: float(v) for k, v in (loss_weights or {}).items()})
    negative = {k: v for k, v in weights.items() if v < 0}
    if negative:
        raise ValueError(
            f'{owner}: loss weights must be >= 0, got {negative}')
    return weights


def raw_data_preprocessor(student_preprocessor: dict, scope: str) -> dict:
    """The distiller's own preprocessor: the student's, minus normalisation
    and channel flip, so the joint teacher receives raw 0..255 pixels in the
    order the pipeline loaded them (each frozen teacher normalises itself).
    Batch augmentations stay: teacher and student see the same mixed images.
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


@MODELS.register_module()
class MLFDDistiller(BaseModel):
    """Multi-level feature distillation from a frozen joint teacher.

    The student trains on its own dataset with
    ``kd * KD(student, joint head of this dataset; T) * T^2
    + feature * mean over pairs of MSE(connector(student stage), joint level)
    + ce * the student head's own loss``. Every term is logged under its own
    name (``loss_kd``, ``loss_feature_s<stage>_l<k>`` per pair, ``loss_ce``);
    a term whose weight is 0 is not computed, and when both teacher terms are
    0 the teacher is not run at all.

    Inputs: the distiller's data preprocessor stacks raw 0..255 pixels (no
    mean/std, no channel flip). The joint teacher gets them as they are; the
    student gets them flipped/normalised by
    :func:`student_data_preprocessor` (the dataset's ``data_preprocessor``,
    overridden by the student config's own).

    Modes: ``loss``; ``predict`` returns the student's stock data samples
    (``pred_score``/``pred_label``), so the stock ``Accuracy`` evaluates the
    student; ``tensor`` returns the student's logits.

    Args:
        student (dict | str): A stock mmpretrain ImageClassifier or
            mmaction2 recognizer config (with ``_scope_``), or a config file
            whose ``model`` it is (e.g. the dataset's stage-1 teacher
            config; see :func:`resolve_student_config`); freshly
            initialised. Its backbone's ``out_indices`` stay those of the
            stock model; the distilled stages are added internally.
        teacher (dict): ``dict(config=..., checkpoint=...)``: the JointTeacher
            model config (a dict), or a config file (path or dict) whose
            ``model`` is the JointTeacher, and its trained checkpoint. The
            teacher is frozen: eval mode for good, no gradients. Stage-1
            checkpoint files that no longer exist are skipped, since the
            joint checkpoint holds every teacher weight. ``checkpoint=None``
            keeps random weights (build tests only; logs a warning).
        dataset (str | int | None): The student's dataset: a name in the
            joint teacher's ``dataset_names`` or an index into them. ``None``
            for a dataset the joint teacher was not trained on
            (cross-dataset generalisation, the paper's supplementary Table
            6): the joint teacher has no head for it, so only feature
            distillation and CE apply and ``loss_weights.kd`` must be 0.
        distill (Sequence | str): Distilled pairs ``(student stage, teacher
            level)``: the stage is an index of the student backbone's stages
            (``out_indices`` numbering, e.g. 0..3 for a ResNet), the level a
            joint-teacher level name ``'l1'`` (shallowest) .. ``'lk'``
            (deepest); e.g. ``[(1, 'l1'), (2, 'l2'), (3, 'l3')]``. ``'auto'``
            pairs the deepest student stage of each spatial resolution, the k
            deepest of them, with l1..lk in order. Defaults to ``'auto'``.
        loss_weights (dict): Weights of ``kd``, ``feature`` and ``ce``.
            Defaults to ``dict(kd=0.6, feature=0.2, ce=0.2)``.
        temperature (float): KD temperature. Defaults to 2.0.
        connector (dict, optional): Extra arguments of every
            :class:`FeatureConnector`.
        feature_only_datasets (Sequence[str]): Names of other datasets whose
            images may come in the training batches (``dataset_name`` in the
            sample's metainfo, as :class:`MultiDatasetWrapper` sets it):
            they get feature distillation only, no CE nor KD. A sample of
            any other dataset is an error. Defaults to ``()``.
        student_init (str, optional): A checkpoint of the student's
            architecture that the student starts from, e.g. the
            Kinetics-400 model that its stage-1 config fine-tunes
            (``load_from`` there). Loaded by :meth:`init_weights` after the
            fresh initialisation, as mmengine's ``load_from`` is: the
            weights that fit are loaded, the others (a classifier for
            another label set) keep their fresh values, with a warning.
            Defaults to None (trained from scratch).
        data_preprocessor (dict, optional): See above.
        init_cfg (dict, optional): Never reaches the joint teacher.
    """

    def __init__(self,
                 student: dict,
                 teacher: dict,
                 dataset: Union[str, int, None],
                 distill: Union[str, Sequence] = 'auto',
                 loss_weights: Optional[dict] = None,
                 temperature: float = 2.0,
                 connector: Optional[dict] = None,
                 feature_only_datasets: Sequence[str] = (),
                 student_init: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        student = resolve_student_config(student)
        scope = student_scope(student)
        preprocessor = student_data_preprocessor(student, data_preprocessor,
                                                 scope)
        super().__init__(
            data_preprocessor=raw_data_preprocessor(preprocessor, scope),
            init_cfg=init_cfg)
        self.scope = scope
        self.student_preprocessor = preprocessor
        self._set_student_normalisation(self.student_preprocessor)
        self.loss_weights = check_loss_weights(loss_weights,
                                               DEFAULT_LOSS_WEIGHTS,
                                               'MLFDDistiller')
        self.feature_only_datasets = tuple(feature_only_datasets)
        self.student_init = student_init

        self.teacher = self._build_teacher(teacher)
        self.dataset_index, self.dataset_name = self._resolve_dataset(dataset)

        self.student, stage_channels, stage_sizes = self._build_student(
            student, distill)
        self._check_num_classes()

        self.pairs: List[Tuple[int, int]] = self._resolve_pairs(
            distill, stage_channels, stage_sizes)
        self.kd_loss = KDLoss(temperature=temperature)
        self.feature_loss = FeatureMSELoss()
        if self.loss_weights['feature'] > 0 and self.pairs:
            self.connectors = build_connectors(
                [(stage_channels[s], self.teacher.level_channels[lvl])
                 for s, lvl in self.pairs], **(connector or {}))
        else:
            # Unused parameters would stall DDP: no connectors without
            # feature distillation.
            self.connectors = nn.ModuleList()
        self._teacher_accuracy: Optional[Dict[str, float]] = None

    # ------------------------------------------------------------------
    # construction
    # ------------------------------------------------------------------
    def _set_student_normalisation(self, preprocessor: dict):
        mean, std = preprocessor.get('mean'), preprocessor.get('std')
        if (mean is None) != (std is None):
            raise ValueError(
                f'student data_preprocessor gives only one of mean ({mean}) '
                f'and std ({std})')
        # Channels sit at dim -3 for (N, C, H, W) and mmaction2's NCHW clips
        # (B, N, C, H, W); at dim -4 for NCTHW clips (B, N, C, T, H, W).
        self._channel_dim = -4 if preprocessor.get('format_shape') in (
            'NCTHW', 'MIX2d3d') else -3
        shape = (-1, ) + (1, ) * (-self._channel_dim - 1)
        self.student_flip_channels = bool(
            preprocessor.get('to_rgb') or preprocessor.get('bgr_to_rgb')
            or preprocessor.get('rgb_to_bgr'))
        # Non-persistent: they come from the config, as in mmpretrain.
        self.register_buffer(
            'student_mean', None if mean is None else torch.tensor(
                mean, dtype=torch.float32).view(shape), persistent=False)
        self.register_buffer(
            'student_std', None if std is None else torch.tensor(
                std, dtype=torch.float32).view(shape), persistent=False)

    @staticmethod
    def _joint_model_config(config) -> dict:
        """The JointTeacher model config from a file, a whole config or a
        model config."""
        if isinstance(config, str):
            if not osp.isfile(config):
                raise FileNotFoundError(
                    f'teacher.config: joint-teacher config file not found: '
                    f'{config}')
            file_cfg = Config.fromfile(config)
            if 'model' not in file_cfg:
                raise KeyError(
                    f'teacher.config: {config} has no `model` (the '
                    'JointTeacher)')
            return _as_dict(file_cfg.model)
        if not isinstance(config, dict):
            raise TypeError(
                'teacher.config must be a path or a dict, got '
                f'{type(config).__name__}')
        config = _as_dict(config)
        if 'type' not in config and 'model' in config:
            return _as_dict(config['model'])
        return config

    def _build_teacher(self, teacher: dict) -> nn.Module:
        teacher = _as_dict(teacher)
        unknown = sorted(set(teacher) - {'config', 'checkpoint'})
        if 'config' not in teacher or unknown:
            raise KeyError(
                'MLFDDistiller: teacher must be dict(config=<JointTeacher '
                f'config or file>, checkpoint=<path>); got keys '
                f'{sorted(teacher)}')
        checkpoint = teacher.get('checkpoint')
        # Fail before the (slow) build when the checkpoint is not there.
        if checkpoint is not None and '://' not in checkpoint and \
                not osp.isfile(checkpoint):
            raise FileNotFoundError(
                f'teacher.checkpoint: joint-teacher checkpoint file not '
                f'found: {checkpoint}')
        model_cfg = self._joint_model_config(teacher['config'])
        skipped = []
        for i, spec in enumerate(model_cfg.get('teachers') or []):
            path = spec.get('checkpoint') if isinstance(spec, dict) else None
            if checkpoint is not None and path and '://' not in path and \
                    not osp.isfile(path):
                spec['checkpoint'] = None
                skipped.append(spec.get('name', f'teacher{i}'))
        if skipped:
            print_log(
                f'stage-1 checkpoints of teachers {skipped} not found: their '
                f'weights come from the joint-teacher checkpoint {checkpoint}',
                logger='current')
        model = MODELS.build(model_cfg)
        for attr in ('dataset_names', 'level_channels', 'num_classes'):
            if not hasattr(model, attr):
                raise TypeError(
                    f'teacher.config builds {type(model).__name__}, which has '
                    f'no `{attr}`: MLFDDistiller needs a JointTeacher')
        if checkpoint is None:
            print_log(
                'MLFDDistiller: teacher.checkpoint is None, the joint teacher '
                'keeps random weights', logger='current', level=30)
        else:
            self._load_teacher_checkpoint(model, checkpoint)
        for param in model.parameters():
            param.requires_grad_(False)
        model.train(False)
        return model

    @staticmethod
    def _load_teacher_checkpoint(model: nn.Module, checkpoint: str):
        loaded = CheckpointLoader.load_checkpoint(
            checkpoint, map_location='cpu')
        state = loaded.get('state_dict', loaded)
        state = {(k[len('module.'):] if k.startswith('module.') else k): v
                 for k, v in state.items()}
        own = model.state_dict()
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        if missing or unexpected:
            parts = [
                f'{label} ({len(keys)}): {", ".join(keys[:5])}'
                + (' ...' if len(keys) > 5 else '')
                for label, keys in (('missing', missing),
                                    ('unexpected', unexpected)) if keys
            ]
            raise RuntimeError(
                f'teacher.checkpoint {checkpoint} does not match the joint '
                f'teacher built from teacher.config: ' + '; '.join(parts))
        model.load_state_dict(state, strict=True)

    def _resolve_dataset(
            self, dataset: Union[str, int, None]
    ) -> Tuple[Optional[int], Optional[str]]:
        names = list(self.teacher.dataset_names)
        if dataset is None:
            if self.loss_weights['kd'] > 0:
                raise ValueError(
                    'dataset=None (a dataset the joint teacher was not '
                    f'trained on; its datasets: {names}) leaves no joint '
                    'head for soft targets: set loss_weights.kd=0 '
                    f'(got {self.loss_weights["kd"]})')
            return None, None
        if isinstance(dataset, bool) or not isinstance(dataset, (str, int)):
            raise TypeError(
                f'dataset must be a name or an index, got {dataset!r}')
        if isinstance(dataset, int):
            if not 0 <= dataset < len(names):
                raise ValueError(
                    f'dataset={dataset} is not an index of the joint '
                    f"teacher's datasets {names} (0..{len(names) - 1})")
            return dataset, names[dataset]
        if dataset not in names:
            raise ValueError(
                f'dataset={dataset!r} is not one of the joint teacher\'s '
                f'datasets: {names}')
        return names.index(dataset), dataset

    def _build_stock(self, student: dict) -> nn.Module:
        with DefaultScope.overwrite_default_scope(self.scope):
            return MODELS.build(copy.deepcopy(student))

    def _build_student(self, student: dict, distill):
        """Build the student with the distilled stages as extra outputs.

        Returns:
            tuple: the student, and for every backbone output stage its
            channels and (H, W) on the probe image.
        """
        stock = self._build_stock(student)
        backbone = stock.backbone
        stock_indices = (student.get('backbone') or {}).get(
            'out_indices', getattr(backbone, 'out_indices', None))
        if stock_indices is None:
            raise ValueError(
                f'student backbone {type(backbone).__name__} has no '
                'out_indices: MLFD takes multi-level features from them')
        stock_indices = [int(i) for i in (
            [stock_indices] if isinstance(stock_indices, int)
            else stock_indices)]
        num_stages = count_backbone_stages(backbone)
        self.student_stages = list(range(num_stages)) if num_stages else None
        bare_single_output = isinstance(self._probe(backbone), torch.Tensor)
        del stock

        wanted = self._requested_stages(distill)
        built = sorted(set(stock_indices) | set(wanted))
        if self.student_stages is not None:
            for stage in wanted:
                if stage not in self.student_stages:
                    raise ValueError(
                        f'distill: student stage {stage} does not exist; the '
                        f'student backbone {type(backbone).__name__} has '
                        f'stages {self.student_stages}')
        model_cfg = copy.deepcopy(student)
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
        self._student_head(model).register_forward_hook(self._tap.head_hook)

        self._probe(model.backbone)
        channels = {i: f.size(1) for i, f in self._tap.features.items()}
        sizes = {i: tuple(f.shape[-2:]) for i, f in self._tap.features.items()}
        return model, channels, sizes

    @staticmethod
    def _student_head(model: nn.Module) -> nn.Module:
        # mmpretrain classifiers call it ``head``, mmaction2 ``cls_head``.
        head = getattr(model, 'head', None) or getattr(model, 'cls_head', None)
        if head is None:
            raise ValueError(
                f'student {type(model).__name__} has no head: MLFD needs a '
                'classifier')
        return head

    @staticmethod
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

    def _requested_stages(self, distill) -> List[int]:
        if isinstance(distill, str):
            if distill != 'auto':
                raise ValueError(
                    f"distill must be 'auto' or a list of (student stage, "
                    f"teacher level) pairs, got {distill!r}")
            if self.student_stages is None:
                raise ValueError(
                    "distill='auto' needs to know the student backbone's "
                    'stages; give explicit pairs')
            return list(self.student_stages)
        return [stage for stage, _ in self._parse_pairs(distill)]

    def _level_names(self) -> List[str]:
        return [f'l{k}' for k in range(1, len(self.teacher.level_channels) +
                                       1)]

    @staticmethod
    def _parse_pairs(distill) -> List[Tuple[int, str]]:
        pairs = []
        for pair in distill:
            if isinstance(pair, dict):
                pair = (pair.get('student'), pair.get('teacher'))
            if (not isinstance(pair, (list, tuple)) or len(pair) != 2
                    or isinstance(pair[0], bool)
                    or not isinstance(pair[0], int)
                    or not isinstance(pair[1], str)):
                raise ValueError(
                    f'distill: {pair!r} is not a (student stage, teacher '
                    "level) pair such as (3, 'l3')")
            pairs.append((int(pair[0]), pair[1]))
        return pairs

    def _resolve_pairs(self, distill, channels, sizes) -> List[Tuple[int,
                                                                     int]]:
        """Pairs as (student stage, index into the joint levels)."""
        levels = self._level_names()
        if isinstance(distill, str):  # 'auto', checked before
            deepest_per_size = [
                s for s, nxt in zip(self.student_stages,
                                    self.student_stages[1:] + [None])
                if nxt is None or sizes[nxt] != sizes[s]
            ]
            chosen = deepest_per_size[-len(levels):]
            if len(chosen) < len(levels):
                raise ValueError(
                    f"distill='auto': the student has {len(chosen)} "
                    f'resolutions for {len(levels)} joint levels {levels}; '
                    'give explicit pairs')
            return [(s, k) for k, s in enumerate(chosen)]
        pairs = []
        for stage, level in self._parse_pairs(distill):
            if level not in levels:
                hint = ''
                if level[:1] == 'L':
                    hint = (" (levels are named in lower case; 'Lk' is the "
                            "level-set shorthand of the teachers' config)")
                raise ValueError(
                    f'distill: teacher level {level!r} does not exist; the '
                    f'joint teacher has levels {levels} (shallow to deep)'
                    f'{hint}')
            if stage not in channels:  # backbone with unknown stage count
                raise ValueError(
                    f'distill: student stage {stage} does not exist; the '
                    f'student backbone gives stages {sorted(channels)}')
            pairs.append((stage, levels.index(level)))
        return pairs

    def _check_num_classes(self):
        if self.dataset_index is None:
            return  # cross-dataset: no joint head to match
        head = self._student_head(self.student)
        student_classes = getattr(head, 'num_classes', None)
        teacher_classes = self.teacher.num_classes[self.dataset_index]
        if student_classes is not None and \
                int(student_classes) != int(teacher_classes):
            raise ValueError(
                f'the student head has {student_classes} classes but the '
                f'joint teacher\'s head for dataset {self.dataset_name!r} has '
                f'{teacher_classes}')

    # ------------------------------------------------------------------
    # frozen teacher
    # ------------------------------------------------------------------
    def train(self, mode: bool = True) -> 'MLFDDistiller':
        """Train the student; the joint teacher stays in eval mode."""
        super().train(mode)
        self.teacher.train(False)
        return self

    def init_weights(self):
        """Initialise the student (and connectors); the joint teacher keeps
        its checkpoint, so it is out of the module tree while mmengine
        initialises."""
        teacher = self._modules.pop('teacher')
        try:
            super().init_weights()
        finally:
            self._modules['teacher'] = teacher
        self._load_student_init()

    def _load_student_init(self):
        """Load ``student_init`` into the student (see the class Args)."""
        path = getattr(self, 'student_init', None)
        if path is None:
            return
        if '://' not in path and not osp.isfile(path):
            raise FileNotFoundError(
                f'student_init: checkpoint file not found: {path} (the '
                'checkpoint the student starts from)')
        load_checkpoint(self.student, path, map_location='cpu', strict=False,
                        logger='current')

    # ------------------------------------------------------------------
    # forward
    # ------------------------------------------------------------------
    def student_inputs(self, inputs: torch.Tensor) -> torch.Tensor:
        """Raw pixels -> the student's input (channel flip, mean/std)."""
        if self.student_flip_channels and \
                inputs.size(self._channel_dim) == 3:
            inputs = inputs.flip(self._channel_dim)
        if self.student_mean is not None:
            inputs = (inputs - self.student_mean) / self.student_std
        return inputs

    def _teacher_outputs(self, inputs: torch.Tensor,
                         data_samples: Optional[list]) -> dict:
        """The joint teacher's ``dict(features=..., logits=...)``.

        The one place that runs the teacher: a feature cache passing
        through ``data_samples`` takes effect inside the joint teacher.
        """
        with torch.no_grad():
            return self.teacher(inputs, data_samples, mode='tensor')

    def _student_logits_kwargs(self) -> dict:
        # mmaction2 recognizers return backbone features in tensor mode
        # unless asked for the head's output.
        return dict(stage='head') if hasattr(self.student,
                                             'cls_head') else {}

    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[list] = None,
                mode: str = 'tensor'):
        """``mode``: ``'loss'`` (dict of losses), ``'predict'`` (the
        student's data samples) or ``'tensor'`` (the student's logits)."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.student(
                self.student_inputs(inputs), mode='tensor',
                **self._student_logits_kwargs())
        raise RuntimeError(f'Invalid mode "{mode}": loss, predict or tensor')

    def loss(self, inputs: torch.Tensor,
             data_samples: list) -> Dict[str, torch.Tensor]:
        """Student losses.

        Args:
            inputs (Tensor): Raw pixels, (B, 3, H, W) or clips.
            data_samples (list): The data samples, with labels. Samples of
                ``feature_only_datasets`` take part in feature distillation
                only.

        Returns:
            dict: ``loss_ce`` (and any non-loss entries of the student head,
            such as mmaction2's ``top1_acc``), ``loss_kd``,
            ``loss_feature_s<stage>_l<k>`` per distilled pair.
        """
        weights = self.loss_weights
        own, others = self._split_by_dataset(data_samples)
        student_inputs = self.student_inputs(inputs)
        losses = {}
        if others:
            # Labelled and feature-only samples go through the student
            # separately: the head's loss must see only labelled ones.
            student_losses, logits, feats = self._student_pass(
                student_inputs[own], [data_samples[i] for i in own])
            _, _, other_feats = self._student_pass(student_inputs[others])
            feats = other_feats if feats is None else {
                s: torch.cat([feats[s], other_feats[s]]) for s in feats}
        else:
            student_losses, logits, feats = self._student_pass(
                student_inputs, data_samples)
        for key, value in student_losses.items():
            if 'loss' not in key:
                losses[key] = value
            elif weights['ce'] > 0:
                name = 'loss_ce' if key in ('loss', 'loss_cls') else \
                    f'loss_ce_{key}'
                losses[name] = _scale(value, weights['ce'])
        use_kd = weights['kd'] > 0 and logits is not None
        use_features = weights['feature'] > 0 and bool(self.pairs)
        if not use_kd and not use_features:
            return losses

        teacher_out = self._teacher_outputs(inputs, data_samples)
        if use_kd:
            teacher_logits = teacher_out['logits'][self.dataset_index]
            losses['loss_kd'] = weights['kd'] * self.kd_loss(
                logits, teacher_logits[own] if others else teacher_logits)
        if use_features:
            per_pair = weights['feature'] / len(self.pairs)
            for (stage, level), connector in zip(self.pairs,
                                                 self.connectors):
                target = teacher_out['features'][level]
                if others:  # student maps come as own samples, then others
                    target = _select_samples(target, own + others,
                                             len(data_samples))
                student_feat = feats[stage]
                if student_feat.size(0) != target.size(0):
                    raise ValueError(
                        f'student stage {stage} gives {student_feat.size(0)} '
                        f'maps per batch but joint level l{level + 1} gives '
                        f'{target.size(0)}: student and teachers must use '
                        'the same number of segments per clip')
                mapped = connector(student_feat, target.shape[-2:])
                losses[f'loss_feature_s{stage}_l{level + 1}'] = \
                    per_pair * self.feature_loss(mapped, target)
        return losses

    def _student_pass(self, inputs: torch.Tensor,
                      data_samples: Optional[list] = None):
        """Run the student: with samples, its own loss; without, features
        only. Returns (losses, logits, features by stage), or
        ``({}, None, None)`` for an empty batch."""
        if inputs.size(0) == 0:
            return {}, None, None
        if data_samples is None:
            self.student(inputs, mode='tensor',
                         **self._student_logits_kwargs())
            return {}, None, self._tap.features
        losses = self.student(inputs, data_samples, mode='loss')
        return losses, self._tap.logits, self._tap.features

    def _split_by_dataset(self, data_samples: list) -> Tuple[List[int],
                                                             List[int]]:
        """Indices of the student's own samples and of feature-only ones,
        from the ``dataset_name`` in each sample's metainfo (a sample without
        one is the student's own)."""
        own, others = [], []
        for i, sample in enumerate(data_samples or []):
            name = sample.metainfo.get('dataset_name', self.dataset_name)
            if name == self.dataset_name:
                own.append(i)
            elif name in self.feature_only_datasets:
                others.append(i)
            else:
                raise ValueError(
                    f'a training sample comes from dataset {name!r}, which '
                    f'is neither the student\'s ({self.dataset_name!r}) nor '
                    f'one of feature_only_datasets '
                    f'{list(self.feature_only_datasets)}')
        return own, others

    def predict(self, inputs: torch.Tensor,
                data_samples: Optional[list] = None) -> list:
        """The student's predictions (stock data samples with
        ``pred_score``/``pred_label``); while :meth:`start_teacher_accuracy`
        is on, also counts the joint teacher's hits on the same samples."""
        results = self.student(
            self.student_inputs(inputs), data_samples, mode='predict')
        if self._teacher_accuracy is not None and data_samples is not None:
            self._count_teacher_hits(inputs, data_samples)
        return results

    # ------------------------------------------------------------------
    # joint-teacher accuracy on the student's split
    # ------------------------------------------------------------------
    def start_teacher_accuracy(self):
        """Start counting the joint teacher's top-1/top-5 hits in
        :meth:`predict` (see :class:`JointTeacherAccuracyHook`)."""
        self._teacher_accuracy = dict(top1=0., top5=0., total=0.)

    def stop_teacher_accuracy(self) -> Optional[Dict[str, float]]:
        """Stop counting; return this process's ``dict(top1, top5, total)``
        hit counts (None if counting was off)."""
        counts, self._teacher_accuracy = self._teacher_accuracy, None
        return counts

    @torch.no_grad()
    def _count_teacher_hits(self, inputs, data_samples):
        labels = [s.gt_label for s in data_samples
                  if 'gt_label' in s and s.gt_label.numel() == 1]
        if len(labels) != len(data_samples) or self.dataset_index is None:
            # unlabelled or multi-label samples, or no joint head for the
            # student's dataset: nothing to count
            return
        labels = torch.stack([lb.reshape(()) for lb in labels]).long()
        logits = self._teacher_outputs(
            inputs, data_samples)['logits'][self.dataset_index]
        k = min(5, logits.size(-1))
        topk = logits.topk(k, dim=-1).indices.cpu()
        hits = topk == labels.view(-1, 1).cpu()
        self._teacher_accuracy['top1'] += float(hits[:, 0].sum())
        self._teacher_accuracy['top5'] += float(hits.any(dim=1).sum())
        self._teacher_accuracy['total'] += float(len(labels))


def _select_samples(maps: torch.Tensor, order: List[int],
                    num_samples: int) -> torch.Tensor:
    """Rows of ``maps`` (B*S, ...) for the samples in ``order``, keeping each
    sample's S consecutive rows (segments) together."""
    per_sample = maps.size(0) // num_samples
    rows = maps.view(num_samples, per_sample, *maps.shape[1:])
    return rows[order].flatten(0, 1)


def _scale(value, weight: float):
    if isinstance(value, (list, tuple)):
        return type(value)(weight * v for v in value)
    return weight * value
