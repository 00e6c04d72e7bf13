"""BaseDistiller: what every distiller here does with its student.

A distiller trains one stock student (:class:`DistilledStudent`) against
frozen teachers. The base owns the student side: building it, its input
normalisation, the loss weights, the student head's own (CE) loss, the
``loss``/``predict``/``tensor`` modes, loading ``student_init``, and keeping
the frozen teachers out of ``init_weights`` and ``train``. A subclass builds
its teachers, chooses the student stages it reads, and writes ``loss``.
"""
from typing import Dict, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.runner.checkpoint import load_state_dict

from ...checkpoint import (load_checkpoint_file, state_dict_mismatch,
                           state_dict_of)
from ..frozen import detached_children
from ..initial_weights import stage1_initial_weights
from ..losses import FeatureMSELoss
from .student import DistilledStudent, StageChooser


def check_loss_weights(loss_weights: Optional[dict], defaults: dict,
                       owner: str) -> Dict[str, float]:
    """``defaults`` updated by ``loss_weights``.

    Args:
        loss_weights (dict, optional): The config's weights, by loss name.
        defaults (dict): Every loss of the distiller and its default weight.
        owner (str): The distiller, for messages.

    Returns:
        dict[str, float]: One weight per loss.

    Raises:
        KeyError: A weight names no loss of the distiller.
        ValueError: A weight is negative.
    """
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


PAIRED_KEYS = ('paired_with', 'seed')


def check_student_init(student_init):
    """``student_init`` checked: None, a checkpoint file, or
    ``dict(paired_with=<stage-1 config>, seed=None)``; the pipeline's
    ``'stage1'`` and ``'paired'`` are errors outside a pipeline."""
    if student_init in ('stage1', 'paired'):
        instead = ('the checkpoint file' if student_init == 'stage1' else
                   'dict(paired_with=<stage-1 config file>, seed=<its '
                   'seed>)')
        raise ValueError(
            f"student_init={student_init!r} (the stage-1 run of the "
            "student's dataset) is filled in by tools/run_pipeline.py; "
            f'outside a pipeline give {instead}')
    if isinstance(student_init, dict):
        student_init = dict(student_init)
        unknown = sorted(set(student_init) - set(PAIRED_KEYS))
        if unknown or not student_init.get('paired_with'):
            raise KeyError(
                'student_init as a dict must be dict(paired_with=<stage-1 '
                f'config file>, seed=None); got keys {sorted(student_init)}')
    elif student_init is not None and not isinstance(student_init, str):
        raise TypeError(
            'student_init must be None, a checkpoint file, or '
            "dict(paired_with=...); got "
            f'{type(student_init).__name__}')
    return student_init


def _scale(value, weight: float):
    # A head may return a list of losses (one per clip or crop).
    if isinstance(value, (list, tuple)):
        return type(value)(weight * v for v in value)
    return weight * value


class BaseDistiller(BaseModel):
    """A stock student trained against frozen teachers.

    Inputs: the distiller's data preprocessor stacks raw 0..255 pixels (the
    student's preprocessor without mean/std and channel flip), which the
    teachers normalise each their own way; the student gets them through
    :meth:`student_inputs`.

    Modes: ``loss`` (:meth:`loss`, a dict of weighted losses);
    ``predict`` (the student's stock data samples, so the stock metrics
    evaluate it); ``tensor`` (:meth:`_forward`, the student's logits unless
    a subclass says otherwise).

    Submodules: ``student`` (the stock model, its state-dict keys stock, so
    exporting it is taking the ``student.*`` keys), ``student_normaliser``
    (no state), and the subclass's teachers, named in
    :attr:`frozen_children`.

    Args:
        student (dict | str): The student's stock model config, or a config
            file whose ``model`` it is; see :class:`DistilledStudent`.
        loss_weights (dict, optional): Weights that override
            :attr:`default_loss_weights`.
        student_init (str, optional): A checkpoint of the student's
            architecture that the student starts from (e.g. the Kinetics-400
            model its stage-1 config fine-tunes from). Loaded by
            :meth:`init_weights` after the fresh initialisation, as
            mmengine's ``load_from`` is: the weights that fit are loaded,
            the others keep their fresh values, with a warning.
            ``'stage1'``: the stage-1 run of the student's dataset, filled
            in by tools/run_pipeline.py. ``dict(paired_with=<stage-1
            config file>, seed=None)``: not trained weights but the random
            *initial* weights that config's Runner started from under
            ``seed`` (default: its ``randomness.seed``), drawn again (see
            :mod:`mlfd_mm.models.initial_weights`); the student's
            architecture must be the same, key for key. ``'paired'``: that,
            with the stage-1 run of the student's dataset, filled in by
            tools/run_pipeline.py (issue #14; not part of the paper).
            Defaults to None (trained from scratch, the paper's recipe).
        data_preprocessor (dict, optional): The dataset's data preprocessor;
            the student config's own overrides its keys.
        init_cfg (dict, optional): Never reaches the frozen children.
    """

    # Children that hold frozen, checkpoint-loaded teachers: out of
    # init_weights, always in eval mode.
    frozen_children: Tuple[str, ...] = ()
    # Every loss of the distiller and its default weight.
    default_loss_weights: Dict[str, float] = {}

    def __init__(self,
                 student: Union[dict, str],
                 loss_weights: Optional[dict] = None,
                 student_init: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        student_side = DistilledStudent(student, data_preprocessor)
        super().__init__(
            data_preprocessor=student_side.raw_preprocessor,
            init_cfg=init_cfg)
        self.student_side = student_side
        self.student_normaliser = student_side.normaliser
        self.loss_weights = check_loss_weights(
            loss_weights, self.default_loss_weights, type(self).__name__)
        # The configured weights; `loss_weights` is what the next step uses
        # (see scale_loss_weights).
        self.base_loss_weights = dict(self.loss_weights)
        self.student_init = check_student_init(student_init)
        self.feature_loss = FeatureMSELoss()

    def scale_loss_weights(self, factors: Dict[str, float]
                           ) -> Dict[str, float]:
        """Set the weight of each loss named in ``factors`` to its
        configured weight times its factor (a schedule over training, e.g.
        :class:`LossWeightScheduleHook`); the others keep theirs.

        Args:
            factors (dict[str, float]): Loss name -> factor >= 0.

        Returns:
            dict[str, float]: The weights now in use.

        Raises:
            KeyError: A name is not a loss of the distiller.
            ValueError: A factor is negative.
        """
        owner = type(self).__name__
        unknown = sorted(set(factors) - set(self.base_loss_weights))
        if unknown:
            raise KeyError(f'{owner}: cannot schedule unknown loss weights '
                           f'{unknown}; the losses are '
                           f'{sorted(self.base_loss_weights)}')
        for name, factor in factors.items():
            if factor < 0:
                raise ValueError(f'{owner}: the factor of loss weight '
                                 f'{name!r} must be >= 0, got {factor}')
            self.loss_weights[name] = self.base_loss_weights[name] * factor
        return dict(self.loss_weights)

    def _build_student(self, choose_stages: StageChooser):
        """Build the student (``self.student``) recording the stages
        ``choose_stages`` picks; a subclass calls it once its teachers are
        built (see :meth:`DistilledStudent.build`)."""
        self.student = self.student_side.build(choose_stages)

    # ------------------------------------------------------------------
    # frozen children, initialisation
    # ------------------------------------------------------------------
    def train(self, mode: bool = True) -> 'BaseDistiller':
        """Train the student; the frozen children stay in eval mode."""
        super().train(mode)
        for name in self.frozen_children:
            getattr(self, name).train(False)
        return self

    def init_weights(self):
        """Initialise the student (and whatever the subclass learns); the
        frozen children keep their checkpoints, so they are out of the
        module tree meanwhile. Then load ``student_init``."""
        with detached_children(self, self.frozen_children):
            super().init_weights()
        self._load_student_init()

    def _load_student_init(self):
        if self.student_init is None:
            return
        if isinstance(self.student_init, dict):
            self._load_paired_init(**self.student_init)
            return
        state = state_dict_of(
            load_checkpoint_file(self.student_init, 'student_init'))
        # Not strict: a classifier for another label set keeps its fresh
        # weights (mmengine logs what did not fit).
        load_state_dict(self.student, state, strict=False, logger='current')

    def _load_paired_init(self, paired_with, seed=None):
        """The student takes the initial weights of the stage-1 run of
        ``paired_with`` (all of them: same architecture or an error)."""
        state = stage1_initial_weights(paired_with, seed)
        problems = state_dict_mismatch(self.student.state_dict(), state)
        if problems:
            raise ValueError(
                f'student_init=dict(paired_with={paired_with!r}): the '
                "student's architecture differs from that stage-1 model's, "
                'so it cannot start from its initial weights: '
                + '; '.join(problems))
        self.student.load_state_dict(state, strict=True)

    # ------------------------------------------------------------------
    # forward
    # ------------------------------------------------------------------
    def student_inputs(self, inputs: torch.Tensor) -> torch.Tensor:
        """Raw pixels -> the student's input (channel flip, mean/std)."""
        return self.student_side.inputs(inputs)

    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[list] = None,
                mode: str = 'tensor'):
        """``mode``: ``'loss'`` (dict of losses), ``'predict'`` (the
        student's data samples) or ``'tensor'`` (see :meth:`_forward`)."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._forward(inputs, data_samples)
        raise RuntimeError(f'Invalid mode "{mode}": loss, predict or tensor')

    def _forward(self, inputs: torch.Tensor,
                 data_samples: Optional[list] = None):
        """The student's logits, (N, num_classes)."""
        return self.student_side.forward_tensor(self.student_inputs(inputs))

    def predict(self, inputs: torch.Tensor,
                data_samples: Optional[list] = None) -> list:
        """The student's predictions: stock data samples with
        ``pred_score``/``pred_label``."""
        return self.student_side.predict(self.student_inputs(inputs),
                                         data_samples)

    def loss(self, inputs: torch.Tensor,
             data_samples: list) -> Dict[str, torch.Tensor]:
        """The weighted losses of a batch of raw pixels and its labelled
        samples."""
        raise NotImplementedError

    def _ce_losses(self, student_losses: dict) -> Dict[str, torch.Tensor]:
        """The student head's own losses, scaled by the ``ce`` weight and
        logged as ``loss_ce`` (``loss_ce_<key>`` for extra terms); its
        non-loss entries (mmaction2's ``top1_acc``) pass unchanged."""
        weight = self.loss_weights['ce']
        losses = {}
        for key, value in student_losses.items():
            if 'loss' not in key:
                losses[key] = value
            elif weight > 0:
                name = 'loss_ce' if key in ('loss', 'loss_cls') else \
                    f'loss_ce_{key}'
                losses[name] = _scale(value, weight)
        return losses

    def _feature_term(self, connector: nn.Module, student_map: torch.Tensor,
                      target: torch.Tensor, stage: int,
                      source: str) -> torch.Tensor:
        """MSE between a student map, through its connector, and a teacher
        map.

        Args:
            connector (nn.Module): The pair's :class:`FeatureConnector`.
            student_map (Tensor): (N*S, C_s, H_s, W_s).
            target (Tensor): The teacher map, (N*S, C_t, H_t, W_t).
            stage (int): The student stage, for messages.
            source (str): The teacher map's name, for messages.

        Returns:
            Tensor: The unweighted loss (a scalar).
        """
        if student_map.size(0) != target.size(0):
            raise ValueError(
                f'student stage {stage} gives {student_map.size(0)} maps per '
                f'batch but {source} gives {target.size(0)}: student and '
                'teachers must use the same number of segments per clip')
        mapped = connector(student_map, target.shape[-2:])
        return self.feature_loss(mapped, target)
