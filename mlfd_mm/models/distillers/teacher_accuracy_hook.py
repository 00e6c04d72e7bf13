"""Report the frozen joint teacher's accuracy on the student's split."""
from typing import Optional

import torch
from mmengine.dist import all_reduce
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


@HOOKS.register_module()
class JointTeacherAccuracyHook(Hook):
    """Log the joint teacher's acc@1/acc@5 (its head for the student's
    dataset) on the split the student is validated or tested on.

    The teacher is frozen, so its accuracy on the validation split is
    measured once, at the first validation, and then stays in the logs as
    ``val/joint_teacher/accuracy_top1`` (``_top5``); every test run measures
    it again (``test/joint_teacher/...``). It is kept out of the metrics that
    pick the best checkpoint. Works with any model that has
    ``start_teacher_accuracy()`` / ``stop_teacher_accuracy()``
    (:class:`MLFDDistiller`); does nothing for other models.

    Args:
        every_val (bool): Measure at every validation instead of once.
            Defaults to False.
    """

    priority = 'NORMAL'  # before LoggerHook, so the values reach the log

    def __init__(self, every_val: bool = False):
        self.every_val = every_val
        self._measured_val = False
        self._unmeasured = set()  # splits said to be unmeasured

    @staticmethod
    def _distiller(runner):
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        return model if hasattr(model, 'start_teacher_accuracy') else None

    def _start(self, runner):
        model = self._distiller(runner)
        if model is not None:
            model.start_teacher_accuracy()

    def _report(self, runner, mode: str) -> Optional[dict]:
        model = self._distiller(runner)
        if model is None:
            return None
        counts = model.stop_teacher_accuracy()
        if counts is None:
            return None
        totals = torch.tensor(
            [counts['top1'], counts['top5'], counts['total']],
            dtype=torch.float64)
        all_reduce(totals)  # sum over ranks; a no-op without DDP
        top1, top5, total = totals.tolist()
        if total == 0:
            cache = getattr(model, 'joint_output_cache', None)
            if cache and mode not in cache['splits'] and \
                    mode not in self._unmeasured:
                self._unmeasured.add(mode)
                runner.logger.info(
                    f'joint teacher on the {mode} split: not measured, the '
                    'student trains from a joint-output cache without that '
                    "split (model.joint_output_cache.splits="
                    f"{cache['splits']}); the joint teacher's own run "
                    'reports its accuracy')
            return None
        result = dict(accuracy_top1=100 * top1 / total,
                      accuracy_top5=100 * top5 / total)
        for key, value in result.items():
            runner.message_hub.update_scalar(f'{mode}/joint_teacher/{key}',
                                             value)
        runner.logger.info(
            f'joint teacher on the {mode} split (head of dataset '
            f'{model.dataset_name!r}, {int(total)} samples): acc@1 '
            f'{result["accuracy_top1"]:.2f}, acc@5 '
            f'{result["accuracy_top5"]:.2f}')
        return result

    def before_val_epoch(self, runner) -> None:
        if self.every_val or not self._measured_val:
            self._start(runner)

    def after_val_epoch(self, runner, metrics=None) -> None:
        if self._report(runner, 'val') is not None:
            self._measured_val = True

    def before_test_epoch(self, runner) -> None:
        self._start(runner)

    def after_test_epoch(self, runner, metrics=None) -> None:
        self._report(runner, 'test')
