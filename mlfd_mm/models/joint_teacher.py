"""JointTeacher: frozen teachers fused, with one head per dataset."""
import copy
from typing import List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.registry import MODELS

from ..cache import CachedTeacherFeatures
from .backbone_stages import LevelSpec
from .device_format import DeviceFormat, as_channels_last, check_precision
from .frozen import detached_children
from .multi_dataset_classifier import MultiDatasetClassifier


@MODELS.register_module()
class JointTeacher(MultiDatasetClassifier):
    """The joint teacher of MLFD (stage 2).

    m frozen teachers (:class:`FrozenTeacher`) give features at k levels;
    a fusion neck merges them into k joint levels; a multi-dataset head
    classifies each sample with its own dataset's classifier. Only the neck
    and the head learn.

    Args:
        teachers (list[dict]): One dict per teacher with the arguments of
            :class:`FrozenTeacher` (``name``, ``config``, ``checkpoint``, and
            optionally ``levels``, ``num_segments``, ``input_size``,
            ``type``). A teacher without a name is named after its config
            file, or ``teacher<i>`` for a config dict; names must be unique.
        levels (str | Sequence[int]): Levels of every teacher that does not
            give its own. Defaults to ``'L3'``. Every teacher must end up with
            the same number of levels.
        fusion (dict): Config of the fusion neck; its ``in_channels`` (per
            level, per teacher) are set here. Defaults to
            ``ConcatFusionNeck(width=256)``.
        head (dict): Config of the head; ``num_classes``, ``in_channels``,
            ``dataset_names`` and ``num_segments`` are set here unless given.
            Defaults to ``MultiDatasetClsHead``.
        dataset_names (Sequence[str], optional): The datasets, in the order
            of the heads. Defaults to the teachers' names.
        num_classes (Sequence[int], optional): Classes per dataset. Defaults
            to ``head['num_classes']``, else to each teacher's head config
            (only when there is one dataset per teacher).
        data_preprocessor (dict, optional): Defaults to mmpretrain's
            ClsDataPreprocessor without mean/std: the teachers receive raw
            0..255 pixels and normalise them themselves.
        init_cfg (dict, optional): Initialisation of the neck and head; it
            never reaches the teachers.
        feature_cache (dict, optional): ``dict(root=..., pool=None,
            dtype='float16')``: train from the teachers' cached features
            (``tools/cache_features.py``) that the data loader attaches to
            the samples (:class:`CachedFeatureDataset`); no teacher runs for
            such samples. Defaults to None (teachers run every step).
        teacher_precision (str): The precision of every
            :class:`FrozenTeacher` that does not give its own
            ``precision``: ``'auto'`` (bf16 autocast on CUDA, fp32 on the
            CPU), ``'fp32'``, ``'bf16'``, ``'fp16'``. Defaults to ``'auto'``.
        channels_last (bool | str): NHWC on CUDA (``'auto'``), always
            (True) or never (False), for the teachers that do not give their
            own and for the fusion neck (and cached maps fed to it). Defaults
            to ``'auto'``.

    Each sample's dataset comes from its data sample's metainfo
    (``dataset_name`` when it is one of ``dataset_names``, else
    ``dataset_idx``), as :class:`MultiDatasetWrapper` sets them.
    """

    def __init__(self,
                 teachers: Sequence[dict],
                 levels: LevelSpec = 'L3',
                 fusion: dict = dict(type='ConcatFusionNeck', width=256),
                 head: dict = dict(type='MultiDatasetClsHead'),
                 dataset_names: Optional[Sequence[str]] = None,
                 num_classes: Optional[Sequence[int]] = None,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[dict] = None,
                 feature_cache: Optional[dict] = None,
                 teacher_precision: str = 'auto',
                 channels_last: Union[bool, str] = 'auto'):
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self._check_preprocessor()
        if not teachers:
            raise ValueError('JointTeacher needs at least one teacher')

        built = []
        for i, teacher_cfg in enumerate(teachers):
            if isinstance(teacher_cfg, nn.Module):
                built.append(teacher_cfg)
                continue
            cfg = dict(teacher_cfg)
            cfg.setdefault('type', 'FrozenTeacher')
            cfg.setdefault('levels', levels)
            if self._is_frozen_teacher(cfg['type']):
                cfg.setdefault('precision', check_precision(
                    teacher_precision, 'JointTeacher.teacher_precision'))
                cfg.setdefault('channels_last', channels_last)
            if not cfg.get('name') and not isinstance(cfg.get('config'), str):
                # A config file names its teacher (its stem); a dict doesn't.
                cfg['name'] = f'teacher{i}'
            built.append(MODELS.build(cfg))
        self.teachers = nn.ModuleList(built)
        self._check_teachers()

        names = [t.name for t in self.teachers]
        self.dataset_names: List[str] = list(dataset_names or names)
        if len(set(self.dataset_names)) != len(self.dataset_names):
            raise ValueError(
                f'JointTeacher: dataset names must be unique, got '
                f'{self.dataset_names}')
        self.num_segments: int = self.teachers[0].num_segments

        fusion = copy.deepcopy(dict(fusion))
        fusion['in_channels'] = [[t.out_channels[level] for t in self.teachers]
                                 for level in range(self.num_levels)]
        self.neck = MODELS.build(fusion)
        self.level_channels: List[int] = list(
            getattr(self.neck, 'out_channels', []))

        head = copy.deepcopy(dict(head))
        self.num_classes: List[int] = self._resolve_num_classes(
            num_classes, head.pop('num_classes', None))
        head['num_classes'] = self.num_classes
        head['dataset_names'] = self.dataset_names
        head['num_segments'] = self.num_segments
        if 'in_channels' not in head:
            if not self.level_channels:
                raise ValueError(
                    f'JointTeacher: fusion neck {type(self.neck).__name__} '
                    'has no `out_channels`; give head.in_channels')
            head['in_channels'] = self.level_channels[-1]
        self.head = MODELS.build(head)
        self.feature_cache = CachedTeacherFeatures(
            **feature_cache) if feature_cache else None
        # The neck learns: its precision is the training's autocast.
        self.neck_format = DeviceFormat(
            'JointTeacher', channels_last, 'fp32',
            image_model=self.num_segments == 1)

    # ------------------------------------------------------------------
    # construction checks
    # ------------------------------------------------------------------
    def _check_teachers(self):
        names = [t.name for t in self.teachers]
        if len(set(names)) != len(names):
            raise ValueError(f'JointTeacher: teacher names must be unique, '
                             f'got {names}')
        first = self.teachers[0]
        for other in self.teachers[1:]:
            if other.num_segments != first.num_segments:
                raise ValueError(
                    f'teachers {first.name!r} and {other.name!r} have '
                    f'different segment counts: {first.num_segments} vs '
                    f'{other.num_segments}; all teachers must see the same '
                    'clips')
            if len(other.levels) != len(first.levels):
                raise ValueError(
                    f'teachers {first.name!r} and {other.name!r} give '
                    f'different numbers of levels: {first.levels} vs '
                    f'{other.levels}')

    @staticmethod
    def _is_frozen_teacher(teacher_type) -> bool:
        """Whether ``teacher_type`` is FrozenTeacher (or a subclass), which
        takes ``precision`` and ``channels_last``."""
        from .teachers import FrozenTeacher
        cls = MODELS.get(teacher_type) if isinstance(teacher_type, str) \
            else teacher_type
        return isinstance(cls, type) and issubclass(cls, FrozenTeacher)

    def _check_preprocessor(self):
        # A dataset _base_ with a top-level data_preprocessor (mean/std,
        # to_rgb) reaches the model through mmengine's Runner; the teachers
        # would then normalise (or flip) twice.
        prep = self.data_preprocessor
        normalises = getattr(prep, '_enable_normalize', False)
        flips = bool(getattr(prep, 'to_rgb', False)
                     or getattr(prep, '_channel_conversion', False))
        if normalises or flips:
            raise ValueError(
                f'JointTeacher: its data_preprocessor '
                f'({type(prep).__name__}) normalises or flips channels, but '
                'each teacher applies its own mean/std and channel order to '
                'raw pixels; use one without mean/std/to_rgb, e.g. '
                "data_preprocessor=dict(type='ClsDataPreprocessor') in the "
                'model config')

    def _resolve_num_classes(self, num_classes, head_num_classes):
        if num_classes is not None and head_num_classes is not None and list(
                num_classes) != list(head_num_classes):
            raise ValueError(
                f'JointTeacher: num_classes={list(num_classes)} but '
                f'head.num_classes={list(head_num_classes)}')
        num_classes = num_classes if num_classes is not None else (
            head_num_classes)
        if num_classes is None:
            if len(self.dataset_names) != len(self.teachers):
                raise ValueError(
                    f'JointTeacher: {len(self.dataset_names)} datasets '
                    f'{self.dataset_names} for {len(self.teachers)} teachers: '
                    'give num_classes (one per dataset)')
            num_classes = [t.num_classes for t in self.teachers]
            unknown = [t.name for t in self.teachers if t.num_classes is None]
            if unknown:
                raise ValueError(
                    f'JointTeacher: teachers {unknown} have no head '
                    'num_classes in their config; give num_classes')
        if isinstance(num_classes, int):
            num_classes = [num_classes]
        if len(num_classes) != len(self.dataset_names):
            raise ValueError(
                f'JointTeacher: {len(num_classes)} heads (num_classes='
                f'{list(num_classes)}) for {len(self.dataset_names)} datasets '
                f'{self.dataset_names}')
        return [int(k) for k in num_classes]

    def init_weights(self):
        """Initialise the neck and head; the teachers keep their checkpoints.

        mmengine applies an ``init_cfg`` to every submodule, so the teachers
        are taken out of the module tree while it runs.
        """
        with detached_children(self, ['teachers']):
            super().init_weights()

    # ------------------------------------------------------------------
    # features
    # ------------------------------------------------------------------
    @property
    def num_levels(self) -> int:
        return len(self.teachers[0].levels)

    def _teacher_features(
            self,
            inputs: torch.Tensor,
            data_samples: Optional[list] = None) -> List[List[torch.Tensor]]:
        """Every teacher's maps: ``feats[t][l]``, (B*S, C_tl, H_tl, W_tl).

        The one place that produces teacher features, so that features read
        from a cache (through ``data_samples``) replace the teachers' forward
        here and nowhere else.
        """
        if self.feature_cache is not None:
            feats = self.feature_cache(self.teachers, inputs, data_samples)
            if self.neck_format.channels_last_on(inputs.device):
                # Cached maps arrive NCHW; the neck runs NHWC.
                feats = [[as_channels_last(f) for f in per_teacher]
                         for per_teacher in feats]
            return feats
        return [teacher(inputs) for teacher in self.teachers]

    def extract_feat(self,
                     inputs: torch.Tensor,
                     data_samples: Optional[list] = None) -> tuple:
        """Joint features.

        Args:
            inputs (Tensor): Raw pixels, (B, 3, H, W), or (B, S, 3, H, W) for
                clips.
            data_samples (list, optional): Passed on to
                :meth:`_teacher_features`.

        Returns:
            tuple[Tensor]: One (B*S, level_channels[l], H_l, W_l) map per
            joint level, shallow to deep.
        """
        per_teacher = self._teacher_features(inputs, data_samples)
        # Converts the neck's weights (once) on a device that runs NHWC.
        self.neck_format.convert([self.neck], inputs.device)
        per_level = [[feats[level] for feats in per_teacher]
                     for level in range(self.num_levels)]
        return tuple(self.neck(per_level))
