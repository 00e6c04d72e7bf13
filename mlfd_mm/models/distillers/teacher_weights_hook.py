"""Log AMTML-KD's per-instance teacher weights once per training epoch."""
import json
import math
import os.path as osp
from typing import List, Optional

from mmengine.dist import all_reduce, is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from ...atomic_files import atomic_write_json

WEIGHTS_FILE = 'teacher_weights.json'


def read_weight_log(path: str) -> dict:
    """The per-epoch teacher weights a run wrote (``teacher_weights.json``).

    Returns:
        dict: ``teachers`` (names) and ``epochs``: one ``dict(epoch, mean,
        std, instances)`` per finished training epoch, ``mean``/``std``
        listed per teacher.

    Raises:
        ValueError: naming the file, when it is not such a log.
    """
    try:
        with open(path) as f:
            log = json.load(f)
        teachers, epochs = log['teachers'], log['epochs']
        for entry in epochs:
            if len(entry['mean']) != len(teachers) or \
                    len(entry['std']) != len(teachers):
                raise ValueError(f'epoch {entry.get("epoch")} does not '
                                 f'list one value per teacher {teachers}')
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f'{path}: not a teacher-weight log of '
                         f'TeacherWeightsHook: {err}') from err
    return log


@HOOKS.register_module()
class TeacherWeightsHook(Hook):
    """Per training epoch, the mean and the spread across instances of each
    teacher's weight mu (:class:`AMTMLDistiller`), logged, added to
    ``vis_data/scalars.json`` as ``mu_<teacher>`` (the report's curves) and
    written to ``<work_dir>/teacher_weights.json`` (see
    :func:`read_weight_log`).

    The distiller sums the weights on its device as batches come; this hook
    reads the sums once per epoch (one transfer, summed over ranks), so
    logging costs no per-step synchronisation. A resumed run keeps the
    epochs before the one it restarts. Does nothing for a model without
    ``pop_weight_sums`` (or without adaptive weights: then mu is uniform
    and still logged).
    """

    priority = 'NORMAL'

    @staticmethod
    def _distiller(runner):
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        return model if hasattr(model, 'pop_weight_sums') else None

    def before_train_epoch(self, runner) -> None:
        model = self._distiller(runner)
        if model is not None:
            model.pop_weight_sums()  # drop anything from before this epoch

    def after_train_epoch(self, runner) -> None:
        model = self._distiller(runner)
        if model is None:
            return
        sums = model.pop_weight_sums()
        if sums is None:
            return
        all_reduce(sums)  # sum over ranks; a no-op without DDP
        total, squares, count = sums.cpu().tolist()
        mean = [s / n for s, n in zip(total, count)]
        std = [math.sqrt(max(q / n - m * m, 0.))
               for q, n, m in zip(squares, count, mean)]
        epoch = runner.epoch + 1
        names: List[str] = list(model.teacher_names)
        runner.logger.info(
            f'teacher weights mu, epoch {epoch} ({int(count[0])} training '
            'instances): ' + ', '.join(
                f'{n} {m:.4f} (std {s:.4f})'
                for n, m, s in zip(names, mean, std)))
        # one train-style entry per epoch in vis_data/scalars.json, which
        # the report's curves read (mlfd_mm.report.run_reader)
        runner.visualizer.add_scalars(
            dict(epoch=epoch, iter=runner.iter,
                 **{f'mu_{n}': m for n, m in zip(names, mean)}),
            step=runner.iter)
        if is_main_process():
            self._write(runner, names, dict(epoch=epoch, mean=mean, std=std,
                                            instances=int(count[0])))

    @staticmethod
    def _write(runner, names: List[str], entry: dict):
        path = osp.join(runner.work_dir, WEIGHTS_FILE)
        epochs: Optional[list] = []
        if osp.isfile(path):
            try:
                old = read_weight_log(path)
            except ValueError:
                old = None  # unreadable: start the log again
            if old is not None and old['teachers'] == names:
                epochs = [e for e in old['epochs']
                          if e['epoch'] < entry['epoch']]
        atomic_write_json(path, dict(teachers=names,
                                     epochs=epochs + [entry]))
