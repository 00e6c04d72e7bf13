"""MultiDatasetMetric and format_table on hand-made predictions."""
import mlfd_mm  # noqa: F401  (compat fixes before torchvision)
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmpretrain.structures import DataSample

from mlfd_mm.evaluation import MultiDatasetMetric, format_table


def prediction(dataset, ranking, label):
    """A predict-mode sample whose scores rank classes as ``ranking``."""
    scores = torch.zeros(len(ranking))
    for place, cls in enumerate(ranking):
        scores[cls] = len(ranking) - place
    sample = DataSample().set_gt_label(label).set_pred_score(
        scores.softmax(0))
    sample.set_metainfo(dict(dataset_name=dataset))
    return sample


def predictions():
    return [
        # pets, 3 classes: top-1 right 3 of 4 -> 75 %; no top-5.
        prediction('pets', [0, 1, 2], 0),
        prediction('pets', [1, 0, 2], 1),
        prediction('pets', [2, 1, 0], 2),
        prediction('pets', [0, 2, 1], 1),
        # shapes, 6 classes: top-1 right 2 of 5 -> 40 %; the label is in the
        # top 5 for 4 of 5 -> 80 %.
        prediction('shapes', [3, 0, 1, 2, 4, 5], 3),
        prediction('shapes', [5, 0, 1, 2, 3, 4], 5),
        prediction('shapes', [0, 1, 2, 3, 4, 5], 4),
        prediction('shapes', [0, 1, 2, 3, 4, 5], 1),
        prediction('shapes', [0, 1, 2, 3, 4, 5], 5),
    ]


EXPECTED = {
    'mean/accuracy_top1': 57.5,
    'mean/accuracy_top5': 80.0,
    'pets/accuracy_top1': 75.0,
    'shapes/accuracy_top1': 40.0,
    'shapes/accuracy_top5': 80.0,
}


def test_per_dataset_and_mean_accuracy():
    evaluator = Evaluator(MultiDatasetMetric(topk=(1, 5)))
    evaluator.dataset_meta = dict(dataset_names=['pets', 'shapes'],
                                  classes=[['a', 'b', 'c'], list('uvwxyz')])
    preds = predictions()
    # In two batches, shapes first: the order of the table follows the
    # dataset_meta, not the order of arrival.
    evaluator.process(preds[4:])
    evaluator.process(preds[:4])
    metrics = evaluator.evaluate(len(preds))
    assert set(metrics) == set(EXPECTED)
    for key, value in EXPECTED.items():
        assert metrics[key] == pytest.approx(value), key
    # mean/* first, so that save_best='auto' follows the mean acc@1.
    assert list(metrics)[0] == 'mean/accuracy_top1'


def test_top1_only_and_prefix():
    metric = MultiDatasetMetric(topk=1, prefix='joint')
    metric.process(None, [p.to_dict() for p in predictions()])
    metrics = metric.evaluate(9)
    assert metrics == pytest.approx({
        'joint/mean/accuracy_top1': 57.5,
        'joint/pets/accuracy_top1': 75.0,
        'joint/shapes/accuracy_top1': 40.0,
    })


def test_format_table():
    table = format_table(EXPECTED)
    assert table.splitlines() == [
        'dataset | accuracy_top1 | accuracy_top5',
        '--------+---------------+--------------',
        'pets    |         75.00 |             -',
        'shapes  |         40.00 |         80.00',
        'mean    |         57.50 |         80.00',
    ]


def test_errors():
    sample = DataSample().set_gt_label(0).set_pred_score(torch.ones(3) / 3)
    with pytest.raises(KeyError, match='dataset_name'):
        MultiDatasetMetric().process(None, [sample])
    with pytest.raises(ValueError, match=r"unknown items \['auc'\]"):
        MultiDatasetMetric(items=('accuracy', 'auc'))
