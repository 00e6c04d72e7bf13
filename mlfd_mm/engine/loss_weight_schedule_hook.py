"""A schedule for a distiller's loss weights over training."""
from typing import Sequence

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


@HOOKS.register_module()
class LossWeightScheduleHook(Hook):
    """Scale some loss weights of a distiller by a factor that moves linearly
    from ``start_factor`` to ``end_factor`` between epochs ``begin`` and
    ``end`` (fractions of an epoch count: the factor is set before every
    training iteration), and stays at ``start_factor`` before and at
    ``end_factor`` after.

    A warm-up of the distillation terms, which keeps them from dominating
    the first epochs: ``terms=('kd', 'feature'), start_factor=0.,
    end_factor=1., begin=0, end=5``. A decay to CE alone:
    ``start_factor=1., end_factor=0., begin=0, end=20``. The factor follows
    from the iteration alone, so a resumed run is scheduled as an
    uninterrupted one. Each scheduled weight is logged as
    ``loss_weight_<term>``.

    A factor of 0 switches its term off for that step (the distiller skips
    it): under DDP, unused connectors then need
    ``model_wrapper_cfg=dict(find_unused_parameters=True)``.

    Args:
        terms (Sequence[str]): Loss weights to schedule (names in the
            distiller's ``loss_weights``: ``kd``, ``feature``, ``ce`` for
            :class:`MLFDDistiller`).
        start_factor (float): Factor up to epoch ``begin``.
        end_factor (float): Factor from epoch ``end`` on.
        begin (float): Epoch where the ramp starts. Defaults to 0.
        end (float): Epoch where the ramp ends; > ``begin``.
    """

    priority = 'NORMAL'

    def __init__(self, terms: Sequence[str], start_factor: float,
                 end_factor: float, begin: float = 0., end: float = 1.):
        if isinstance(terms, str) or not terms:
            raise ValueError('LossWeightScheduleHook: terms must be a '
                             f'non-empty list of loss names, got {terms!r}')
        if not end > begin >= 0:
            raise ValueError('LossWeightScheduleHook: need 0 <= begin < end '
                             f'(epochs), got begin={begin}, end={end}')
        if start_factor < 0 or end_factor < 0:
            raise ValueError('LossWeightScheduleHook: factors must be >= 0, '
                             f'got {start_factor}, {end_factor}')
        self.terms = tuple(terms)
        self.start_factor = float(start_factor)
        self.end_factor = float(end_factor)
        self.begin = float(begin)
        self.end = float(end)

    def factor(self, epoch: float) -> float:
        """The factor at ``epoch`` (a float: iterations / iterations per
        epoch)."""
        if epoch <= self.begin:
            return self.start_factor
        if epoch >= self.end:
            return self.end_factor
        done = (epoch - self.begin) / (self.end - self.begin)
        return self.start_factor + done * (self.end_factor -
                                           self.start_factor)

    @staticmethod
    def _distiller(runner):
        model = runner.model
        model = model.module if is_model_wrapper(model) else model
        if not hasattr(model, 'scale_loss_weights'):
            raise TypeError(
                'LossWeightScheduleHook: the model '
                f'({type(model).__name__}) has no scale_loss_weights(); it '
                'schedules the loss weights of a distiller (BaseDistiller)')
        return model

    def before_run(self, runner) -> None:
        # unknown terms fail before the first step, naming the losses
        self._distiller(runner).scale_loss_weights(
            {term: self.start_factor for term in self.terms})

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        epoch = runner.iter / max(len(runner.train_dataloader), 1)
        factor = self.factor(epoch)
        weights = self._distiller(runner).scale_loss_weights(
            {term: factor for term in self.terms})
        for term in self.terms:
            runner.message_hub.update_scalar(f'train/loss_weight_{term}',
                                             weights[term])
