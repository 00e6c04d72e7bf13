"""What a pipeline's results mean: where each toolbox puts a dataset's
metric, and whether a student beat its dataset-specific model. Shared by
``results.md`` (:mod:`mlfd_mm.apis.results_table`) and the report
(:mod:`mlfd_mm.report`)."""
from typing import List, Tuple

import numpy as np

# Where each reported metric sits in a stage's test metrics, and the factor
# that makes it a percentage: our per-dataset keys (MultiDatasetMetric,
# percent), mmpretrain's Accuracy (percent) and mmaction2's AccMetric /
# AccMAPMetric (fractions 0..1). The one place that knows the toolboxes'
# metric keys.
_METRIC_KEYS = {
    'acc@1': (('{dataset}/accuracy_top1', 1.0), ('accuracy/top1', 1.0),
              ('acc/top1', 100.0)),
    'acc@5': (('{dataset}/accuracy_top5', 1.0), ('accuracy/top5', 1.0),
              ('acc/top5', 100.0)),
    'mAP': (('{dataset}/mAP', 1.0), ('acc/mean_average_precision', 100.0)),
}


def metric_percent(metrics, dataset, name):
    """Metric ``name`` of ``dataset`` in percent.

    Args:
        metrics (dict): a stage's test metrics, single- or multi-dataset.
        dataset (str): the dataset whose metric is wanted.
        name (str): 'acc@1', 'acc@5' or 'mAP'.

    Returns:
        float | None: the metric in percent, None if ``metrics`` lacks it.
    """
    for key, scale in _METRIC_KEYS[name]:
        key = key.format(dataset=dataset)
        if key in metrics:
            return float(metrics[key]) * scale
    return None


def student_verdict(specific: List[float],
                    student: List[float]) -> Tuple[str, float]:
    """('beat' | 'tied' | 'lost' ..., mean gain): beyond the seed spread
    means the mean gain exceeds the larger of the two seeds' stds."""
    gain = float(np.mean(student) - np.mean(specific))
    if len(specific) < 2 or len(student) < 2:
        word = 'beat' if gain > 0 else 'lost' if gain < 0 else 'tied'
        return f'{word} (one seed: spread unknown)', gain
    spread = max(float(np.std(specific, ddof=1)),
                 float(np.std(student, ddof=1)))
    if gain > spread:
        return 'beat beyond the seed spread', gain
    if gain < -spread:
        return 'lost beyond the seed spread', gain
    # no '|' here: the verdict is a cell of a markdown table
    return f'tied (gain within ±{spread:.2f}, the seed spread)', gain
