"""Video metrics: per-dataset mAP in MultiDatasetMetric and AccMAPMetric
(mmaction2's AccMetric with mAP on integer labels), on hand-computed
values."""
import mlfd_mm  # noqa: F401  (compat fixes before torchvision)
import numpy as np
import pytest
import torch
from mmaction.structures import ActionDataSample
from mmengine.evaluator import Evaluator
from mmengine.registry import METRICS, DefaultScope

from mlfd_mm.evaluation import AccMAPMetric, MultiDatasetMetric

# Dataset 'a', 3 classes, 4 clips: (scores, label).
CLIPS_A = [
    ([0.7, 0.2, 0.1], 0),
    ([0.8, 0.3, 0.2], 1),
    ([0.1, 0.6, 0.3], 1),
    ([0.2, 0.3, 0.5], 2),
]
# By hand, mmaction2's definition (per class: rank the clips by that
# class's score; AP = sum over recall steps of the precision there):
#   class 0: ranking s2(-) s1(+)            -> AP = 1/2
#   class 1: s3(+) then s2(+), s4(-) tied   -> P=1 at R=.5, P=2/3 at R=1
#                                           -> AP = .5 * 1 + .5 * 2/3 = 5/6
#   class 2: s4(+) first                    -> AP = 1
MAP_A = (0.5 + 5 / 6 + 1.0) / 3 * 100  # 77.78
TOP1_A = 75.0  # s2 is wrong (class 0 scores highest)

# Dataset 'b', 3 classes, only class 0 occurs: classes 1 and 2 have no
# positive clip, so their AP is undefined and left out of the mean.
CLIPS_B = [([0.6, 0.3, 0.1], 0), ([0.2, 0.5, 0.3], 0)]
MAP_B = 100.0  # class 0: every clip is a positive, AP 1
TOP1_B = 50.0


def _sample(scores, label, dataset=None):
    sample = ActionDataSample().set_gt_label(label)
    sample.set_pred_score(torch.tensor(scores))
    if dataset is not None:
        sample.set_metainfo(dict(dataset_name=dataset))
    return sample


def _evaluate(metric, samples, meta=None):
    evaluator = Evaluator(metric)
    evaluator.dataset_meta = meta
    evaluator.process(samples)
    return evaluator.evaluate(len(samples))


def test_multi_dataset_metric_map_per_dataset_and_mean():
    samples = [_sample(s, lb, 'a') for s, lb in CLIPS_A] + [
        _sample(s, lb, 'b') for s, lb in CLIPS_B]
    metrics = _evaluate(
        MultiDatasetMetric(topk=(1, ), items=('accuracy', 'mAP')), samples,
        dict(dataset_names=['a', 'b'], classes=[list('xyz'), list('uvw')]))
    expected = {
        'a/accuracy_top1': TOP1_A, 'a/mAP': MAP_A,
        'b/accuracy_top1': TOP1_B, 'b/mAP': MAP_B,
        'mean/accuracy_top1': (TOP1_A + TOP1_B) / 2,
        'mean/mAP': (MAP_A + MAP_B) / 2,
    }
    assert set(metrics) == set(expected)
    for key, value in expected.items():
        assert metrics[key] == pytest.approx(value), key
    # mean/* first: save_best='auto' keeps following the mean acc@1
    assert list(metrics)[:2] == ['mean/accuracy_top1', 'mean/mAP']


def test_map_is_mmaction2s_definition():
    """The same value as mmaction2's function given one-hot targets."""
    from mmaction.evaluation.functional import mean_average_precision
    rng = np.random.default_rng(0)
    scores = rng.random((12, 5))
    labels = rng.integers(0, 5, 12)
    one_hot = np.eye(5, dtype=np.int64)[labels]
    reference = mean_average_precision(list(scores), list(one_hot)) * 100
    samples = [_sample(list(s), int(lb), 'v')
               for s, lb in zip(scores, labels)]
    metrics = _evaluate(MultiDatasetMetric(items=('mAP', )), samples)
    assert metrics['v/mAP'] == pytest.approx(reference)
    assert 'v/accuracy_top1' not in metrics


def test_map_item_is_off_by_default_and_unknown_items_refused():
    samples = [_sample(s, lb, 'a') for s, lb in CLIPS_A]
    metrics = _evaluate(MultiDatasetMetric(topk=1), samples)
    assert set(metrics) == {'a/accuracy_top1', 'mean/accuracy_top1'}
    with pytest.raises(ValueError, match=r"unknown items \['auc'\]"):
        MultiDatasetMetric(items=('accuracy', 'auc'))


def test_label_outside_the_scored_classes_names_the_dataset():
    samples = [_sample([0.5, 0.5], 3, 'tiny')]
    with pytest.raises(ValueError, match=r"'tiny' has label 3 .* 2 classes"):
        _evaluate(MultiDatasetMetric(items=('mAP', )), samples)


def test_stock_accmetric_map_fails_on_integer_labels():
    """Why AccMAPMetric exists: mmaction2 1.2.0's AccMetric hands integer
    labels to a function that needs one-hot rows."""
    with DefaultScope.overwrite_default_scope('mmaction'):
        stock = METRICS.build(dict(type='AccMetric',
                                   metric_list=('mean_average_precision', )))
    with pytest.raises(AssertionError):
        _evaluate(stock, [_sample(s, lb) for s, lb in CLIPS_A])


def test_acc_map_metric_on_integer_labels():
    with DefaultScope.overwrite_default_scope('mmaction'):
        metric = METRICS.build(dict(type='AccMAPMetric', _scope_='mmaction'))
    assert isinstance(metric, AccMAPMetric)
    metrics = _evaluate(metric, [_sample(s, lb) for s, lb in CLIPS_A])
    # mmaction2's keys and units: fractions under 'acc/'
    assert list(metrics) == ['acc/top1', 'acc/top5', 'acc/mean1',
                             'acc/mean_average_precision']
    assert metrics['acc/top1'] == pytest.approx(TOP1_A / 100)
    assert metrics['acc/top5'] == pytest.approx(1.0)
    # mean class accuracy: class 0 1/1, class 1 1/2, class 2 1/1
    assert metrics['acc/mean1'] == pytest.approx((1 + 0.5 + 1) / 3)
    assert metrics['acc/mean_average_precision'] == pytest.approx(
        MAP_A / 100)


def test_acc_map_metric_without_map_is_accmetric():
    metric = AccMAPMetric(metric_list=('top_k_accuracy', ),
                          metric_options=dict(top_k_accuracy=dict(topk=1)))
    metrics = _evaluate(metric, [_sample(s, lb) for s, lb in CLIPS_A])
    assert metrics == {'acc/top1': pytest.approx(0.75)}


def test_acc_map_metric_stock_config_for_export():
    stock = AccMAPMetric.stock_config(dict(
        type='AccMAPMetric', _scope_='mmaction',
        metric_list=('top_k_accuracy', 'mean_average_precision')))
    assert stock == dict(type='AccMetric', _scope_='mmaction',
                         metric_list=('top_k_accuracy', ))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        built = METRICS.build(stock)
    assert type(built).__name__ == 'AccMetric'
