"""MLFDDistiller: stage 3 of MLFD, a student taught by the frozen joint
teacher through soft targets and multi-level feature distillation."""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.registry import MODELS

from ...checkpoint import (load_checkpoint_file, load_state_dict_strict,
                           state_dict_of)
from ...config import (as_dict, joint_output_splits,
                       resolve_auto_checkpoints, whole_config)
from ...cache.joint_outputs import (CachedJointOutputs, joint_identity,
                                    load_joint_outputs_manifest)
from ...cache.layout import DTYPES
from ..connectors import build_connectors
from ..losses import KDLoss
from .base import BaseDistiller
from .pairs import requested_stages, resolve_pairs

DEFAULT_LOSS_WEIGHTS = dict(kd=0.6, feature=0.2, ce=0.2)
CACHE_KEYS = ('root', 'dtype', 'shard_size', 'splits')


def _cache_options(options: Optional[dict]) -> Optional[dict]:
    """``joint_output_cache`` checked: None, or root/dtype/shard_size/splits."""
    if options is None:
        return None
    options = as_dict(options)
    unknown = sorted(set(options) - set(CACHE_KEYS))
    if unknown or not options.get('root'):
        raise KeyError("joint_output_cache must be dict(root=<cache dir>, "
                       "dtype='float16'|'float32', shard_size=N, splits=["
                       f"'train', ...]); got keys {sorted(options)}")
    if options.setdefault('dtype', 'float16') not in DTYPES:
        raise ValueError(f'joint_output_cache.dtype must be one of {DTYPES}, '
                         f'got {options["dtype"]!r}')
    options['splits'] = joint_output_splits(options)
    return options


class _CachedTeacherInfo:
    """What the distiller's construction asks of its joint teacher
    (datasets, level channels, classes), read from a joint-output cache's
    manifest before the cache itself is checked."""

    def __init__(self, joint: dict):
        self.dataset_names = list(joint['dataset_names'])
        self.level_channels = list(joint['level_channels'])
        self.num_classes = list(joint['num_classes'])

    @classmethod
    def from_manifest(cls, root: str) -> '_CachedTeacherInfo':
        return cls(load_joint_outputs_manifest(root)['joint'])


def joint_model_config(config) -> dict:
    """The JointTeacher model config from a config file, a whole config or
    a model config (only the ``model``: a joint config's data preprocessor
    and default scope are its training run's, not the frozen teacher's).
    ``checkpoint='auto'`` of its teachers that are not there become None."""
    whole = whole_config(config, 'teacher.config')
    if whole is None:
        return as_dict(config)
    if 'model' not in whole:
        raise KeyError(f'teacher.config: {config} has no `model` (the '
                       'JointTeacher)')
    resolve_auto_checkpoints(whole, missing='none')
    return as_dict(whole.model)


def _select_samples(maps: torch.Tensor, order: List[int],
                    num_samples: int) -> torch.Tensor:
    """Rows of ``maps`` (B*S, ...) for the samples in ``order``, keeping each
    sample's S consecutive rows (segments) together."""
    per_sample = maps.size(0) // num_samples
    rows = maps.view(num_samples, per_sample, *maps.shape[1:])
    return rows[order].flatten(0, 1)


@MODELS.register_module()
class MLFDDistiller(BaseDistiller):
    """Multi-level feature distillation from a frozen joint teacher.

    The student trains on its own dataset with
    ``kd * KD(student, joint head of this dataset; T) * T^2
    + feature * mean over pairs of MSE(connector(student stage), joint level)
    + ce * the student head's own loss``. Every term is logged under its own
    name (``loss_kd``, ``loss_feature_s<stage>_l<k>`` per pair, ``loss_ce``);
    a term whose weight is 0 is not computed, and when both teacher terms are
    0 the teacher is not run at all.

    Inputs, modes and the student side are :class:`BaseDistiller`'s: the
    joint teacher gets the raw pixels, the student the pixels normalised by
    its own data preprocessor; ``predict`` returns the student's stock data
    samples, ``tensor`` its logits.

    Args:
        student (dict | str): A stock mmpretrain ImageClassifier or
            mmaction2 recognizer config (with ``_scope_``), or a config file
            whose ``model`` it is (e.g. the dataset's stage-1 teacher
            config); freshly initialised. Its backbone's ``out_indices``
            stay those of the stock model; the distilled stages are added
            internally.
        teacher (dict): ``dict(config=..., checkpoint=...)``: the JointTeacher
            model config (a dict), or a config file (path or dict) whose
            ``model`` is the JointTeacher, and its trained checkpoint. The
            teacher is frozen: eval mode for good, no gradients. Stage-1
            checkpoint files that do not exist are skipped, since the joint
            checkpoint holds every teacher weight. ``checkpoint=None`` keeps
            random weights (build tests only; logs a warning).
        dataset (str | int | None): The student's dataset: a name in the
            joint teacher's ``dataset_names`` or an index into them. ``None``
            for a dataset the joint teacher was not trained on
            (cross-dataset generalisation, the paper's supplementary Table
            6): the joint teacher has no head for it, so only feature
            distillation and CE apply and ``loss_weights.kd`` must be 0.
        distill (Sequence | str): Distilled pairs ``(student stage, teacher
            level)``, e.g. ``[(1, 'l1'), (2, 'l2'), (3, 'l3')]``, or
            ``'auto'``; see :mod:`.pairs`. Defaults to ``'auto'``.
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
        student_init (str | dict, optional): A checkpoint, or the initial
            weights of a stage-1 run: see :class:`BaseDistiller`.
        joint_output_cache (dict, optional): ``dict(root=..., dtype=...)``:
            train from the joint teacher's cached outputs (its fused
            features at the distilled levels and its logits for
            ``dataset``, built by ``tools/cache_features.py <this
            config>``) instead of running it; the joint teacher is then
            not built at all (:class:`CachedJointOutputs` stands in for it,
            after checking the cache against ``teacher.checkpoint``'s
            SHA-256 and ``teacher.config``). The training loader reads it
            (``splits``: :func:`mlfd_mm.config.joint_output_splits`);
            ``dtype`` and ``shard_size`` are build options. Defaults to None.
        data_preprocessor (dict, optional): See :class:`BaseDistiller`.
        init_cfg (dict, optional): Never reaches the joint teacher.
    """

    frozen_children = ('teacher', )
    default_loss_weights = DEFAULT_LOSS_WEIGHTS

    def __init__(self,
                 student: dict,
                 teacher: dict,
                 dataset: Union[str, int, None],
                 distill: Union[str, Sequence] = 'auto',
                 loss_weights: Optional[dict] = None,
                 temperature: float = 2.0,
                 connector: Optional[dict] = None,
                 feature_only_datasets: Sequence[str] = (),
                 student_init: Union[str, dict, None] = None,
                 joint_output_cache: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(student, loss_weights=loss_weights,
                         student_init=student_init,
                         data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.feature_only_datasets = tuple(feature_only_datasets)
        self.joint_output_cache = _cache_options(joint_output_cache)
        if self.joint_output_cache is None:
            # The teacher's random draws come before the student's: a
            # seed's initial student weights depend on this order (a
            # cached student, building no teacher, starts from other
            # draws).
            self.teacher = self._build_teacher(teacher)
        else:
            self.teacher = _CachedTeacherInfo.from_manifest(
                self.joint_output_cache['root'])
        self.dataset_index, self.dataset_name = self._resolve_dataset(dataset)

        self._build_student(lambda stages: requested_stages(distill, stages))
        self._check_num_classes()

        side = self.student_side
        self.pairs: List[Tuple[int, int]] = resolve_pairs(
            distill, side.stages, side.stage_sizes,
            len(self.teacher.level_channels))
        if self.joint_output_cache is not None:
            self.teacher = self._cached_teacher(teacher)
        self.kd_loss = KDLoss(temperature=temperature)
        if self.loss_weights['feature'] > 0 and self.pairs:
            self.connectors = build_connectors(
                [(side.stage_channels[s], self.teacher.level_channels[lvl])
                 for s, lvl in self.pairs], **(connector or {}))
        else:
            # Unused parameters would stall DDP: no connectors without
            # feature distillation.
            self.connectors = nn.ModuleList()
        self._teacher_accuracy: Optional[Dict[str, float]] = None

    # ------------------------------------------------------------------
    # construction
    # ------------------------------------------------------------------
    @staticmethod
    def _build_teacher(teacher: dict) -> nn.Module:
        teacher = as_dict(teacher)
        unknown = sorted(set(teacher) - {'config', 'checkpoint'})
        if 'config' not in teacher or unknown:
            raise KeyError(
                'MLFDDistiller: teacher must be dict(config=<JointTeacher '
                f'config or file>, checkpoint=<path>); got keys '
                f'{sorted(teacher)}')
        checkpoint = teacher.get('checkpoint')
        # Fail before the (slow) build when the checkpoint is not there.
        if checkpoint is not None and not osp.isfile(checkpoint):
            raise FileNotFoundError(
                f'teacher.checkpoint: joint-teacher checkpoint file not '
                f'found: {checkpoint}')
        model_cfg = joint_model_config(teacher['config'])
        skipped = []
        for i, spec in enumerate(model_cfg.get('teachers') or []):
            path = spec.get('checkpoint') if isinstance(spec, dict) else None
            if checkpoint is not None and path and not osp.isfile(path):
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
            state = state_dict_of(
                load_checkpoint_file(checkpoint, 'teacher.checkpoint'))
            load_state_dict_strict(model, state,
                                   f'teacher.checkpoint {checkpoint}')
        for param in model.parameters():
            param.requires_grad_(False)
        model.train(False)
        return model

    def _cached_teacher(self, teacher: dict) -> nn.Module:
        """The joint-output cache checked against the joint teacher the
        config names, standing in for it."""
        teacher = as_dict(teacher)
        checkpoint = teacher.get('checkpoint')
        if checkpoint is None or not osp.isfile(checkpoint):
            raise FileNotFoundError(
                'teacher.checkpoint: the joint-teacher checkpoint is needed '
                'to check the joint-output cache against it (its SHA-256), '
                f'but the file is not there: {checkpoint}')
        identity = joint_identity(
            joint_model_config(teacher['config']), checkpoint,
            self.dataset_name)
        levels = sorted({lvl for _, lvl in self.pairs}) \
            if self.loss_weights['feature'] > 0 else []
        need_logits = self.dataset_index is not None
        return CachedJointOutputs(self.joint_output_cache['root'], identity,
                                  levels, need_logits,
                                  dtype=self.joint_output_cache['dtype'])

    @property
    def teacher_cached(self) -> bool:
        """Whether the joint teacher's outputs come from a cache (no
        teacher is built or run)."""
        return isinstance(self.teacher, CachedJointOutputs)

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

    def _check_num_classes(self):
        if self.dataset_index is None:
            return  # cross-dataset: no joint head to match
        student_classes = self.student_side.num_classes
        teacher_classes = self.teacher.num_classes[self.dataset_index]
        if student_classes is not None and \
                student_classes != int(teacher_classes):
            raise ValueError(
                f'the student head has {student_classes} classes but the '
                f'joint teacher\'s head for dataset {self.dataset_name!r} has '
                f'{teacher_classes}')

    # ------------------------------------------------------------------
    # forward
    # ------------------------------------------------------------------
    def _teacher_outputs(self, inputs: torch.Tensor,
                         data_samples: Optional[list]) -> dict:
        """The joint teacher's ``dict(features=..., logits=...)``.

        The one place that runs the teacher: a feature cache passing
        through ``data_samples`` takes effect inside the joint teacher;
        with ``joint_output_cache`` the outputs are unpacked from
        ``data_samples`` and no teacher runs.
        """
        with torch.no_grad():
            return self.teacher(inputs, data_samples, mode='tensor')

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
        run = self.student_side.run
        if others:
            # Labelled and feature-only samples go through the student
            # separately: the head's loss must see only labelled ones.
            student_losses, logits, feats = run(
                student_inputs[own], [data_samples[i] for i in own])
            _, _, other_feats = run(student_inputs[others])
            feats = other_feats if feats is None else {
                s: torch.cat([feats[s], other_feats[s]]) for s in feats}
        else:
            student_losses, logits, feats = run(student_inputs, data_samples)
        losses = self._ce_losses(student_losses)
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
                losses[f'loss_feature_s{stage}_l{level + 1}'] = \
                    per_pair * self._feature_term(
                        connector, feats[stage], target, stage,
                        f'joint level l{level + 1}')
        return losses

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
        results = super().predict(inputs, data_samples)
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
        # The hits stay on the device while counting (no wait per batch).
        return None if counts is None else {
            key: float(value) for key, value in counts.items()}

    @torch.no_grad()
    def _count_teacher_hits(self, inputs, data_samples):
        labels = [s.gt_label for s in data_samples
                  if 'gt_label' in s and s.gt_label.numel() == 1]
        if len(labels) != len(data_samples) or self.dataset_index is None:
            # unlabelled or multi-label samples, or no joint head for the
            # student's dataset: nothing to count
            return
        if self.teacher_cached and not self.teacher.carried(data_samples):
            return  # an uncached split: no teacher to ask
        labels = torch.stack([lb.reshape(()) for lb in labels]).long()
        logits = self._teacher_outputs(
            inputs, data_samples)['logits'][self.dataset_index]
        k = min(5, logits.size(-1))
        topk = logits.topk(k, dim=-1).indices
        hits = topk == labels.to(topk.device, non_blocking=True).view(-1, 1)
        self._teacher_accuracy['top1'] += hits[:, 0].sum()
        self._teacher_accuracy['top5'] += hits.any(dim=1).sum()
        self._teacher_accuracy['total'] += float(len(labels))
