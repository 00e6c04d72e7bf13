"""DeferredRuntimeInfoHook: the model's logged values reach mmengine's
message hub in batches, so that a GPU step does not end with the host
waiting for the device.

mmengine's ``RuntimeInfoHook`` hands every value a training step logs
(``loss``, ``loss_kd``, ...) to the message hub after each iteration, and
the hub turns each one into a Python number with ``.item()``: on a GPU the
host waits there, every iteration, for the whole step to finish before it
may prepare the next batch. This hook keeps the (detached) values of the
iterations in between and reads them all with one ``tolist()`` on the
iterations where the ``LoggerHook`` reads them, at the end of an epoch and
of training, and at least every ``max_pending`` iterations. The message hub
then holds the same values in the same order as with the stock hook when
anything reads it; only the time they arrive differs.

``tools/train.py`` puts it in place of the stock hook on CUDA
(``default_hooks.runtime_info``) unless the config names one; on the CPU
nothing changes.
"""
from typing import List, Optional

import torch
from mmengine.hooks import LoggerHook, RuntimeInfoHook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class DeferredRuntimeInfoHook(RuntimeInfoHook):
    """:class:`RuntimeInfoHook` that reads the logged tensors in batches.

    Args:
        max_pending (int, optional): Read at least every this many
            iterations. Defaults to the ``LoggerHook``'s interval (20
            without one).
    """

    def __init__(self, max_pending: Optional[int] = None):
        super().__init__()
        self.max_pending = max_pending
        self._interval = max_pending or 20
        self._pending: List[dict] = []

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if self.max_pending is None:
            intervals = [h.interval for h in runner.hooks
                         if isinstance(h, LoggerHook)]
            self._interval = intervals[0] if intervals else 20
        self._pending = []

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        if outputs is not None:
            self._pending.append({
                key: value.detach() if isinstance(value, torch.Tensor)
                else value for key, value in outputs.items()})
        if (self.every_n_inner_iters(batch_idx, self._interval)
                or self.end_of_epoch(runner.train_dataloader, batch_idx)
                or len(self._pending) >= self._interval):
            self.flush(runner)

    def after_train_epoch(self, runner) -> None:
        self.flush(runner)

    def before_val(self, runner) -> None:
        self.flush(runner)
        super().before_val(runner)

    def after_train(self, runner) -> None:
        self.flush(runner)
        super().after_train(runner)

    def flush(self, runner) -> None:
        """Hand every pending value to the message hub, in order; the
        single-element tensors are read back together (one wait)."""
        pending, self._pending = self._pending, []
        tensors = [value for values in pending for value in values.values()
                   if isinstance(value, torch.Tensor) and value.numel() == 1]
        numbers = iter([])
        if tensors:
            device = tensors[0].device
            numbers = iter(torch.stack(
                [t.reshape(()).to(device, torch.float64) for t in tensors]
            ).tolist())
        for values in pending:
            for key, value in values.items():
                if isinstance(value, torch.Tensor) and value.numel() == 1:
                    number = next(numbers)
                    value = number if value.is_floating_point() else int(
                        number)
                runner.message_hub.update_scalar(f'train/{key}', value)
