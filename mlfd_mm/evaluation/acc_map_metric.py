"""AccMAPMetric: mmaction2's AccMetric, with mAP for single-label clips."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmaction.evaluation import AccMetric
from mmaction.evaluation.functional import mean_average_precision
from mmengine.registry import METRICS

_MAP = 'mean_average_precision'


@METRICS.register_module()
class AccMAPMetric(AccMetric):
    """mmaction2's ``AccMetric`` whose ``'mean_average_precision'`` also
    takes single-label (integer) targets.

    In mmaction2 1.2.0, ``AccMetric`` hands the integer labels of a
    single-label dataset (HMDB-51, UCF-101, ActivityNet as classification,
    the offline video set) straight to ``mean_average_precision``, which
    expects one-hot rows: it pairs each class's scores with one sample's
    label and fails on an assertion. Here integer labels are one-hot encoded
    (as many classes as the scores have) for the mAP alone; one-hot
    (multi-label) targets pass through unchanged, and every other metric is
    ``AccMetric``'s. Keys, like ``AccMetric``'s, are fractions in 0..1
    under the prefix ``acc``: ``acc/top1``, ``acc/top5``, ``acc/mean1``,
    ``acc/mean_average_precision``.

    Args:
        metric_list (str | tuple[str]): As ``AccMetric``'s. Defaults to
            top-k accuracy, mean class accuracy and mAP.
        collect_device (str): ``'cpu'`` or ``'gpu'``.
        metric_options (dict): As ``AccMetric``'s. Defaults to top-1 and
            top-5 accuracy.
        prefix (str, optional): Defaults to ``'acc'``.
    """

    def __init__(self,
                 metric_list: Union[str, Tuple[str, ...]] = (
                     'top_k_accuracy', 'mean_class_accuracy', _MAP),
                 collect_device: str = 'cpu',
                 metric_options: Optional[Dict] = dict(
                     top_k_accuracy=dict(topk=(1, 5))),
                 prefix: Optional[str] = None):
        super().__init__(
            metric_list=metric_list,
            collect_device=collect_device,
            metric_options=metric_options,
            prefix=prefix)
        # AccMetric computes the others; the mAP is computed here, last.
        self.with_map = _MAP in self.metrics
        self.metrics = tuple(m for m in self.metrics if m != _MAP)

    def calculate(self, preds: List[np.ndarray],
                  labels: List[Union[int, np.ndarray]]) -> Dict:
        """AccMetric's metrics, then the mAP over classes.

        Args:
            preds (list[np.ndarray]): (num_classes, ) scores per sample.
            labels (list[int | np.ndarray]): Class index or one-hot row per
                sample.

        Returns:
            dict: Metric name -> value (fraction).
        """
        results = super().calculate(preds, labels)
        if self.with_map:
            targets = [_one_hot(label, len(pred))
                       for pred, label in zip(preds, labels)]
            # classes without positives divide 0 by 0 before being skipped
            with np.errstate(divide='ignore', invalid='ignore'):
                results[_MAP] = mean_average_precision(preds, targets)
        return results

    @classmethod
    def stock_config(cls, cfg: dict) -> dict:
        """The nearest stock mmaction2 evaluator config, for an exported
        model that must load without mlfd_mm: ``AccMetric`` with the same
        options, less the mAP it cannot compute on integer labels."""
        stock = {k: v for k, v in cfg.items() if k != 'type'}
        metrics = stock.get('metric_list', (
            'top_k_accuracy', 'mean_class_accuracy', _MAP))
        if isinstance(metrics, str):
            metrics = (metrics, )
        stock['metric_list'] = tuple(m for m in metrics if m != _MAP) or (
            'top_k_accuracy', )
        stock['_scope_'] = 'mmaction'
        return dict(type='AccMetric', **stock)


def _one_hot(label, num_classes: int) -> np.ndarray:
    if isinstance(label, np.ndarray) and label.ndim == 1 and \
            label.size == num_classes:
        return label  # already one-hot (multi-label)
    index = int(label)
    if not 0 <= index < num_classes:
        raise ValueError(f'AccMAPMetric: label {index} outside the '
                         f'{num_classes} scored classes')
    row = np.zeros(num_classes, dtype=np.int64)
    row[index] = 1
    return row
