"""MultiDatasetMetric: per-dataset accuracy (and mAP) and their mean over
datasets."""
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmengine.registry import METRICS

MEAN_KEY = 'mean'


def _topk_accuracy(scores: torch.Tensor, labels: torch.Tensor,
                   topk: Sequence[int]) -> Dict[str, float]:
    """Top-k accuracy (%) for every k not above the number of classes."""
    results = {}
    num_classes = scores.size(1)
    for k in topk:
        if k > num_classes:
            continue
        top = scores.topk(k, dim=1).indices
        hits = (top == labels.view(-1, 1)).any(dim=1).float()
        results[f'accuracy_top{k}'] = hits.mean().item() * 100.0
    return results


def _mean_average_precision(scores: torch.Tensor,
                            labels: torch.Tensor) -> Dict[str, float]:
    """mAP (%) over classes, by mmaction2's definition.

    mmaction2's ``mean_average_precision``: each class's scores rank all the
    samples, its AP is the area under that ranking's step precision-recall
    curve, and the mean skips classes without a positive sample (their AP
    is undefined). It takes one-hot targets; single-label ones are encoded
    here.

    Args:
        scores (Tensor): (N, K) scores of the dataset's head.
        labels (Tensor): (N, ) class indices in 0..K-1.

    Returns:
        dict: ``{'mAP': value}``, NaN when no class has a positive sample.
    """
    from mmaction.evaluation.functional import mean_average_precision
    one_hot = F.one_hot(labels, scores.size(1)).numpy()
    # classes without positives divide 0 by 0 before being skipped
    with np.errstate(divide='ignore', invalid='ignore'):
        value = mean_average_precision(list(scores.numpy()), list(one_hot))
    return {'mAP': float(value) * 100.0}


@METRICS.register_module()
class MultiDatasetMetric(BaseMetric):
    """Metrics of each dataset of a multi-dataset model, and their mean.

    Reads predict-mode data samples carrying ``dataset_name``,
    ``pred_score`` and ``gt_label``. Keys are ``<dataset>/<metric>`` and
    ``mean/<metric>`` (mean over the datasets that have the metric), e.g.
    ``mnist/accuracy_top1`` and ``mean/accuracy_top1``; ``mean/*`` come first
    so that ``save_best='auto'`` keeps the best mean acc@1. The table
    (:func:`format_table`) is logged after each evaluation.

    Args:
        topk (int | Sequence[int]): Top-k accuracies to report; a k larger
            than a dataset's number of classes is skipped for that dataset.
            Defaults to (1, 5).
        items (Sequence[str]): Metric families: ``'accuracy'`` (top-k
            accuracy, keys ``accuracy_top<k>``) and ``'mAP'`` (mean average
            precision over classes as mmaction2 defines it, key ``mAP``; the
            paper's second video metric). Defaults to ``('accuracy', )``.
        collect_device (str): ``'cpu'`` or ``'gpu'``.
        prefix (str, optional): Prefix of every key. Defaults to none.
    """
    # Keys already start with the dataset's name; '' (not None) means "no
    # prefix" without mmengine's warning about a missing one.
    default_prefix: Optional[str] = ''

    # Metric families computed per dataset by ``_dataset_metrics``.
    _ITEMS = ('accuracy', 'mAP')

    def __init__(self,
                 topk: Union[int, Sequence[int]] = (1, 5),
                 items: Sequence[str] = ('accuracy', ),
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.topk = (topk, ) if isinstance(topk, int) else tuple(topk)
        unknown = [i for i in items if i not in self._ITEMS]
        if unknown:
            raise ValueError(f'MultiDatasetMetric: unknown items {unknown}; '
                             f'known: {list(self._ITEMS)}')
        self.items = tuple(items)

    def process(self, data_batch, data_samples: Sequence) -> None:
        for sample in data_samples:
            if not isinstance(sample, dict):
                sample = sample.to_dict()
            if 'dataset_name' not in sample:
                raise KeyError(
                    'MultiDatasetMetric: a prediction has no dataset_name; '
                    'evaluate a JointTeacher (predict mode) on a '
                    'MultiDatasetWrapper')
            label = sample['gt_label']
            self.results.append(
                dict(
                    dataset_name=sample['dataset_name'],
                    pred_score=sample['pred_score'].detach().cpu().float(),
                    gt_label=int(torch.as_tensor(label).reshape(-1)[0])))

    def _dataset_metrics(self, name: str, scores: torch.Tensor,
                         labels: torch.Tensor) -> Dict[str, float]:
        bad = labels[(labels < 0) | (labels >= scores.size(1))]
        if bad.numel():
            raise ValueError(
                f'MultiDatasetMetric: dataset {name!r} has label '
                f'{int(bad[0])} but its predictions score '
                f'{scores.size(1)} classes')
        metrics = {}
        if 'accuracy' in self.items:
            metrics.update(_topk_accuracy(scores, labels, self.topk))
        if 'mAP' in self.items:
            metrics.update(_mean_average_precision(scores, labels))
        return metrics

    def _dataset_order(self, results: List[dict]) -> List[str]:
        seen = list(OrderedDict.fromkeys(r['dataset_name'] for r in results))
        known = list((self.dataset_meta or {}).get('dataset_names') or [])
        return [n for n in known if n in seen] + [
            n for n in seen if n not in known]

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        per_dataset = OrderedDict()
        for name in self._dataset_order(results):
            own = [r for r in results if r['dataset_name'] == name]
            scores = torch.stack([r['pred_score'] for r in own])
            labels = torch.tensor([r['gt_label'] for r in own])
            per_dataset[name] = self._dataset_metrics(name, scores, labels)

        metric_names = list(OrderedDict.fromkeys(
            k for m in per_dataset.values() for k in m))
        metrics = OrderedDict()
        for key in metric_names:
            values = [m[key] for m in per_dataset.values() if key in m]
            metrics[f'{MEAN_KEY}/{key}'] = sum(values) / len(values)
        for name, values in per_dataset.items():
            for key, value in values.items():
                metrics[f'{name}/{key}'] = value
        print_log('\n' + format_table(metrics), logger='current')
        return dict(metrics)


def format_table(metrics: Dict[str, float], digits: int = 2) -> str:
    """A text table of ``<dataset>/<metric>`` values.

    Args:
        metrics (dict): Keys ``<dataset>/<metric>`` (other keys, such as a
            prefix's, are split at their last ``/``).
        digits (int): Decimals. Defaults to 2.

    Returns:
        str: One row per dataset (``mean`` last), one column per metric;
        ``-`` where a dataset lacks a metric (e.g. top-5 with < 5 classes).
    """
    rows, columns = OrderedDict(), []
    for key, value in metrics.items():
        if '/' not in key:
            continue
        row, column = key.rsplit('/', 1)
        rows.setdefault(row, {})[column] = value
        if column not in columns:
            columns.append(column)
    mean_rows = [r for r in rows if r.split('/')[-1] == MEAN_KEY]
    order = [r for r in rows if r not in mean_rows] + mean_rows
    header = ['dataset'] + columns
    body = [[row] + [
        f'{rows[row][c]:.{digits}f}' if c in rows[row] else '-'
        for c in columns
    ] for row in order]
    widths = [max(len(line[i]) for line in [header] + body)
              for i in range(len(header))]

    def line(cells):
        return ' | '.join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(cells, widths)))

    rule = '-+-'.join('-' * w for w in widths)
    return '\n'.join([line(header), rule] + [line(r) for r in body])
