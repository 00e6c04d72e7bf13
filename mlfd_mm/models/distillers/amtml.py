"""AMTMLDistiller: adaptive multi-teacher multi-level knowledge distillation
(Liu, Zhang and Wang, Neurocomputing 2020).

Several frozen teachers on one label space teach a student through (i) an
integrated soft target in which each teacher's weight is decided per
instance, and (ii) intermediate hints, each teacher supervising its own
student stage (multi-group hints).
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.registry import MODELS

from ..connectors import build_connectors
from ..losses import RKDLoss
from ..teachers import FrozenTeacher
from .base import BaseDistiller
from .hints import check_hints, check_teacher_specs, hinted_stages

# Released defaults, with alpha = 0.7: kd = 2 * alpha, ce = 1 - alpha, the
# two RKD terms added with weight 1, each FitNet hint added with weight 1,
# an L2 penalty of 0.1 on W and the theta_k.
DEFAULT_LOSS_WEIGHTS = dict(kd=1.4, ce=0.3, rkd=1.0, hint=1.0, latent_l2=0.1)
# How beta is pooled from the student's deepest map: 'avg' as released (its
# ResNet students hand the adapter their average-pooled last stage; the
# adapter's max pool then covers a 1x1 map), 'max' as the paper writes.
BETA_POOLS = ('avg', 'max')
# How the KD term averages KL(target || student): 'mean' over instances and
# classes as released (nn.KLDivLoss() of PyTorch >= 0.4.1), or 'batchmean'
# over instances only (KDLoss, MLFD's students).
KD_REDUCTIONS = ('mean', 'batchmean')


@MODELS.register_module()
class AMTMLDistiller(BaseDistiller):
    """Adaptive multi-teacher multi-level knowledge distillation.

    **Integrated soft target.** Each teacher k has a learnable latent vector
    ``theta_k`` (``teacher_latents[k]``, dimension d) and all share
    ``W`` (``latent_weight``, d x 1). For an instance, ``beta`` is the
    student's deepest feature map, pooled over space (``beta_pool``:
    average by default, as in the released code; or max) and over segments,
    projected to d by a linear map when its width is not d; then
    ``alpha_k = (beta * theta_k) @ W``, ``mu = softmax_k(alpha)`` and the
    target is ``sum_k mu_k softmax(z_k / T)`` with ``z_k`` the logits of
    teacher k. The target keeps its graph: the distillation loss trains
    ``theta``, ``W`` (and, through ``beta``, the student) to choose the
    weights, as in the authors' code. With ``adaptive=False`` the weights are
    uniform (vanilla multi-teacher KD) and there are no ``theta``, ``W``.

    **Losses**, each logged under its own name:

    - ``loss_kd = kd * T^2 * KL(target || softmax(student / T)) / C``: the
      KL divergence averaged over instances and the C classes, as the
      released ``nn.KLDivLoss()`` (reduction ``'mean'``) gives it, i.e.
      :class:`KDLoss`'s batch mean divided by C (without the ``/ C`` with
      ``kd_reduction='batchmean'``); computed here with
      ``F.kl_div`` because :class:`KDLoss` detaches its target, and this
      target must pass gradients to the teacher weights;
    - ``loss_ce = ce *`` the student head's own loss;
    - ``loss_rkd = rkd *`` :class:`RKDLoss` (distance + angle) between the
      student's logits and the integrated target (a fixed target there);
    - ``loss_hint_<teacher>_s<stage>``: ``hint *`` MSE between a FitNet
      connector (1x1 conv, no BN, on the L2-normalised student map,
      :class:`FeatureConnector`) of student stage ``g(j)`` and teacher j's
      map at its hint stage, L2-normalised over channels (the released
      FitNet normalises both sides); each hint has the full weight, as
      released (they are summed);
    - ``loss_latent_l2 = latent_l2 * (||W||^2 + sum_k ||theta_k||^2)``.

    The defaults are the authors' released ones (alpha = 0.7: kd = 2 alpha,
    ce = 1 - alpha; T = 5; L2 weight 0.1). The weights of the training
    instances are summed on the device as they come (no per-step sync);
    :class:`TeacherWeightsHook` reads them once per epoch
    (:meth:`pop_weight_sums`), and ``tensor`` mode returns the
    per-instance weights. README "AMTML-KD against MLFD on one label
    space" lists every difference from the released code.

    **Label spaces.** Soft targets (``kd``, ``rkd``) mix the teachers'
    class distributions, which is only defined when every teacher and the
    student have the same classes. A config that asks for soft targets with
    teachers of different class counts is an error; set ``kd=0`` and
    ``rkd=0`` to distil through hints only, which works across label spaces
    (the teachers are then built without their heads). Equal class counts
    are taken to mean the same classes in the same order: that is not
    checked.

    The student side (stock student, its stage features recorded by hooks,
    its data preprocessor, raw pixels for the teachers, ``predict``) is
    :class:`BaseDistiller`'s; the teachers are several
    :class:`FrozenTeacher`.

    Modes: ``loss``; ``predict`` returns the student's stock data samples;
    ``tensor`` returns ``dict(logits=(N, num_classes), teacher_weights=(N,
    num_teachers) or None)``, the weights being ``mu`` (uniform when not
    adaptive, None without soft targets).

    Args:
        student (dict | str): The student: a stock mmpretrain ImageClassifier
            or mmaction2 recognizer config, or a config file whose ``model``
            it is (see :func:`resolve_student_config`); trained afresh.
        teachers (Sequence[dict]): ``dict(name=..., config=...,
            checkpoint=...)`` per teacher: a stage-1 config (file or dict)
            and its checkpoint, loaded by :class:`FrozenTeacher`. Names must
            be unique; they key ``hints`` and the logs.
        hints (dict): The multi-group hint map: ``{teacher name:
            dict(teacher_stage=j, student_stage=s)}``; the stage indices
            number the backbones' stages (``out_indices``). Teachers absent
            from it give soft targets only. Defaults to no hints.
        adaptive (bool): Learn per-instance teacher weights; False gives
            equal weights. Defaults to True.
        latent_dim (int, optional): d, the width of ``theta_k`` and ``W``.
            Defaults to the channels of the student's deepest stage (no
            projection of ``beta``).
        beta_pool (str): ``'avg'`` (released) or ``'max'``: how ``beta``
            pools the student's deepest map over space. Defaults to
            ``'avg'``.
        kd_reduction (str): ``'mean'`` (released: over instances and
            classes) or ``'batchmean'`` (over instances, as
            :class:`KDLoss`). Defaults to ``'mean'``.
        loss_weights (dict): Weights of ``kd``, ``ce``, ``rkd``, ``hint``
            and ``latent_l2``. Defaults to ``DEFAULT_LOSS_WEIGHTS``.
        temperature (float): T of the soft targets. Defaults to 5.0.
        rkd (dict, optional): Arguments of :class:`RKDLoss`. Defaults to
            ``dict(distance_weight=1., angle_weight=1.)`` (the authors' code
            adds the two terms unweighted).
        connector (dict, optional): Arguments of every hint
            :class:`FeatureConnector`. Defaults to ``dict(always_project=True,
            l2_normalize=True, with_norm=False)`` (the released FitNet
            regressor).
        data_preprocessor (dict, optional): See :class:`BaseDistiller`.
        init_cfg (dict, optional): Never reaches the teachers.
    """

    frozen_children = ('teachers', )
    default_loss_weights = DEFAULT_LOSS_WEIGHTS

    def __init__(self,
                 student: Union[dict, str],
                 teachers: Sequence[dict],
                 hints: Optional[dict] = None,
                 adaptive: bool = True,
                 latent_dim: Optional[int] = None,
                 beta_pool: str = 'avg',
                 kd_reduction: str = 'mean',
                 loss_weights: Optional[dict] = None,
                 temperature: float = 5.0,
                 rkd: Optional[dict] = None,
                 connector: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(student, loss_weights=loss_weights,
                         data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        if temperature <= 0:
            raise ValueError(
                f'AMTMLDistiller: temperature must be > 0, got {temperature}')
        self.temperature = float(temperature)
        if beta_pool not in BETA_POOLS:
            raise ValueError(f'AMTMLDistiller: beta_pool must be one of '
                             f'{BETA_POOLS}, got {beta_pool!r}')
        self.beta_pool = beta_pool
        if kd_reduction not in KD_REDUCTIONS:
            raise ValueError(f'AMTMLDistiller: kd_reduction must be one of '
                             f'{KD_REDUCTIONS}, got {kd_reduction!r}')
        self.kd_reduction = kd_reduction
        self.adaptive = bool(adaptive)
        self.use_soft_targets = (self.loss_weights['kd'] > 0
                                 or self.loss_weights['rkd'] > 0)

        specs = check_teacher_specs(teachers)
        self.teacher_names = [spec['name'] for spec in specs]
        hint_map = check_hints(hints, self.teacher_names)
        self.teachers = self._build_teachers(specs, hint_map)
        self._check_label_spaces()

        # The teachers' random draws come before the student's: a seed's
        # initial student weights depend on this order.
        self._build_student(lambda stages: hinted_stages(hint_map, stages))
        self.beta_stage = self.student_side.stages[-1]
        stage_channels = self.student_side.stage_channels
        self._check_student_classes()

        # (teacher index, position in its features, student stage)
        self.hints: List[Tuple[int, int, int]] = []
        for name, spec in hint_map.items():
            k = self.teacher_names.index(name)
            position = self.teachers[k].levels.index(spec['teacher_stage'])
            self.hints.append((k, position, spec['student_stage']))
        if self.loss_weights['hint'] > 0 and self.hints:
            connector_cfg = dict(always_project=True, l2_normalize=True,
                                 with_norm=False)
            connector_cfg.update(connector or {})
            self.connectors = build_connectors(
                [(stage_channels[s], self.teachers[k].out_channels[p])
                 for k, p, s in self.hints], **connector_cfg)
        else:
            # Unused parameters would stall DDP.
            self.connectors = nn.ModuleList()

        self.rkd_loss = RKDLoss(**(rkd or dict(distance_weight=1.,
                                               angle_weight=1.)))
        self._build_teacher_weighting(stage_channels[self.beta_stage],
                                      latent_dim)
        # (3, num_teachers) on the device: sum of mu, sum of mu^2, count
        self._weight_sums: Optional[torch.Tensor] = None

    # ------------------------------------------------------------------
    # construction
    # ------------------------------------------------------------------
    def _build_teachers(self, specs: List[dict],
                        hint_map: Dict[str, dict]) -> nn.ModuleList:
        teachers = []
        for spec in specs:
            name = spec['name']
            if name not in hint_map and not self.use_soft_targets:
                raise ValueError(
                    f'teacher {name!r} has no hint and soft targets are off '
                    '(kd = rkd = 0): it would teach nothing')
            # A teacher without a hint still needs some level; its deepest
            # one is never used.
            levels = (hint_map[name]['teacher_stage'], ) \
                if name in hint_map else 'L1'
            try:
                teacher = FrozenTeacher(
                    spec['config'], spec.get('checkpoint'), name=name,
                    levels=levels, with_head=self.use_soft_targets)
            except ValueError as err:
                if name in hint_map and 'unknown level' in str(err):
                    raise ValueError(
                        f'hints[{name!r}]: teacher stage '
                        f'{hint_map[name]["teacher_stage"]} does not exist: '
                        f'{err}') from err
                raise
            teachers.append(teacher)
        return nn.ModuleList(teachers)

    def _check_label_spaces(self):
        if not self.use_soft_targets:
            return
        counts = {t.name: t.num_classes for t in self.teachers}
        if len(set(counts.values())) > 1:
            raise ValueError(
                'soft targets (loss_weights kd='
                f'{self.loss_weights["kd"]}, rkd={self.loss_weights["rkd"]}) '
                'mix the teachers\' class distributions, which is undefined '
                f'when their label spaces differ: class counts {counts}. Set '
                'loss_weights kd=0 and rkd=0 to distil through hints only.')

    def _check_student_classes(self):
        if not self.use_soft_targets:
            return
        student_classes = self.student_side.num_classes
        teacher_classes = self.teachers[0].num_classes
        if student_classes is not None and teacher_classes is not None and \
                student_classes != int(teacher_classes):
            raise ValueError(
                f'the student head has {student_classes} classes but the '
                f'teachers have {teacher_classes}: soft targets need one '
                'label space')

    def _build_teacher_weighting(self, beta_channels: int,
                                 latent_dim: Optional[int]):
        """theta (``teacher_latents``), W (``latent_weight``) and, when d is
        not the student's width, the projection of beta."""
        self.teacher_latents = None
        self.latent_weight = None
        self.beta_projection = None
        if not (self.adaptive and self.use_soft_targets):
            return
        dim = int(latent_dim or beta_channels)
        if dim != beta_channels:
            self.beta_projection = nn.Linear(beta_channels, dim, bias=False)
        # theta ~ N(0, 1) as released; W ~ N(0, 1/d) rather than N(0, 1),
        # so that alpha does not grow with d and the softmax over teachers
        # is not saturated (one-hot, no gradient) from the first step.
        self.teacher_latents = nn.Parameter(
            torch.randn(len(self.teachers), dim))
        self.latent_weight = nn.Parameter(
            torch.randn(dim, 1) / math.sqrt(dim))

    # ------------------------------------------------------------------
    # forward
    # ------------------------------------------------------------------
    def teacher_weights(self, student_feature: torch.Tensor,
                        num_samples: int) -> torch.Tensor:
        """Per-instance teacher weights mu.

        Args:
            student_feature (Tensor): The student's deepest map,
                (N*S, C, H, W).
            num_samples (int): N (S segments per sample for video).

        Returns:
            Tensor: (N, num_teachers), rows summing to 1.
        """
        num_teachers = len(self.teachers)
        if self.teacher_latents is None:
            return student_feature.new_full((num_samples, num_teachers),
                                            1. / num_teachers)
        if self.beta_pool == 'avg':
            beta = student_feature.mean(dim=(-2, -1))
            beta = beta.view(num_samples, -1, beta.size(-1)).mean(dim=1)
        else:
            beta = student_feature.amax(dim=(-2, -1))
            beta = beta.view(num_samples, -1, beta.size(-1)).amax(dim=1)
        if self.beta_projection is not None:
            beta = self.beta_projection(beta)
        scores = (beta.unsqueeze(1) * self.teacher_latents) @ \
            self.latent_weight
        return scores.squeeze(-1).softmax(dim=-1)

    def _forward(self, inputs: torch.Tensor,
                 data_samples: Optional[list] = None) -> dict:
        """``dict(logits, teacher_weights)``: the student's logits (N,
        num_classes) and the teachers' per-instance weights (N,
        num_teachers), or None without soft targets."""
        logits = self.student_side.forward_tensor(self.student_inputs(inputs))
        weights = None
        if self.use_soft_targets:
            weights = self.teacher_weights(
                self.student_side.features[self.beta_stage], logits.size(0))
        return dict(logits=logits, teacher_weights=weights)

    def _teacher_outputs(self, inputs: torch.Tensor):
        """Per teacher: (features at its hint stage or deepest level, logits
        or None)."""
        outputs = []
        with torch.no_grad():
            for teacher in self.teachers:
                if self.use_soft_targets:
                    outputs.append(teacher.forward_with_logits(inputs))
                else:
                    outputs.append((teacher(inputs), None))
        return outputs

    def integrated_target(self, teacher_logits: List[torch.Tensor],
                          weights: torch.Tensor) -> torch.Tensor:
        """``sum_k mu_k softmax(z_k / T)``: (N, num_classes)."""
        probs = torch.stack(
            [F.softmax(z.float() / self.temperature, dim=-1)
             for z in teacher_logits], dim=1)
        return (weights.unsqueeze(-1) * probs).sum(dim=1)

    @torch.no_grad()
    def _add_weight_sums(self, weights: torch.Tensor):
        """Add a batch's teacher weights (N, K) to the running sums,
        without leaving the device."""
        sums = torch.stack([weights.sum(0), weights.pow(2).sum(0),
                            torch.full_like(weights[0], weights.size(0))])
        if self._weight_sums is None or \
                self._weight_sums.device != sums.device:
            self._weight_sums = torch.zeros_like(sums, dtype=torch.float64)
        self._weight_sums += sums.double()

    def pop_weight_sums(self) -> Optional[torch.Tensor]:
        """The teacher weights of the training instances since the last
        call, and start again.

        Returns:
            Tensor | None: (3, num_teachers) float64 on the model's device:
            the sum of mu, the sum of mu^2 and the number of instances, per
            teacher; None when no training batch with soft targets ran.
        """
        sums, self._weight_sums = self._weight_sums, None
        return sums

    def loss(self, inputs: torch.Tensor,
             data_samples: list) -> Dict[str, torch.Tensor]:
        """Student losses.

        Args:
            inputs (Tensor): Raw pixels, (N, 3, H, W) or clips.
            data_samples (list): The data samples, with labels.

        Returns:
            dict: ``loss_ce`` (and any non-loss entry of the student head),
            ``loss_kd``, ``loss_rkd``, ``loss_hint_<teacher>_s<stage>``,
            ``loss_latent_l2``.
        """
        weights = self.loss_weights
        student_losses, logits, feats = self.student_side.run(
            self.student_inputs(inputs), data_samples)
        losses = self._ce_losses(student_losses)

        use_hints = weights['hint'] > 0 and bool(self.hints)
        if not self.use_soft_targets and not use_hints:
            return losses
        teacher_out = self._teacher_outputs(inputs)

        if self.use_soft_targets:
            mu = self.teacher_weights(feats[self.beta_stage], logits.size(0))
            target = self.integrated_target(
                [z for _, z in teacher_out], mu).to(logits.dtype)
            if weights['kd'] > 0:
                # KDLoss would detach the target; mu must learn from it.
                log_student = F.log_softmax(logits / self.temperature, -1)
                kd = F.kl_div(log_student, target, reduction='batchmean')
                if self.kd_reduction == 'mean':
                    kd = kd / logits.size(-1)  # and over classes, released
                losses['loss_kd'] = weights['kd'] * self.temperature**2 * kd
            if weights['rkd'] > 0:
                losses['loss_rkd'] = weights['rkd'] * self.rkd_loss(
                    logits, target)
            if self.teacher_latents is not None and weights['latent_l2'] > 0:
                losses['loss_latent_l2'] = weights['latent_l2'] * (
                    self.latent_weight.pow(2).sum() +
                    self.teacher_latents.pow(2).sum())
            if self.training:
                self._add_weight_sums(mu)

        if use_hints:
            for (k, position, stage), connector in zip(self.hints,
                                                       self.connectors):
                name = self.teacher_names[k]
                target_map = F.normalize(teacher_out[k][0][position], p=2,
                                         dim=1)
                losses[f'loss_hint_{name}_s{stage}'] = \
                    weights['hint'] * self._feature_term(
                        connector, feats[stage], target_map, stage,
                        f'teacher {name!r}')
        return losses
