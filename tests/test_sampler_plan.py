"""sampler_plan: MultiDatasetSampler's passes per epoch and share of
batches without a dataset, as a pure function (the README's table)."""
import types

import pytest

from mlfd_mm.datasets.samplers import MultiDatasetSampler, sampler_plan

OFFLINE_57K = [1000, 55000, 1000]
T1 = [50000, 100000, 50000]


@pytest.mark.parametrize('sizes', [OFFLINE_57K, T1, [3, 7, 11]])
@pytest.mark.parametrize('ratio', ['uniform', 'size', [2, 1, 1]])
def test_plan_quotas_are_the_sampler_s(sizes, ratio):
    ends = [sum(sizes[:i + 1]) for i in range(len(sizes))]
    sampler = MultiDatasetSampler(types.SimpleNamespace(
        cumulative_sizes=ends, names=['a', 'b', 'c']), ratio=ratio, seed=0,
        num_samples=ends[-1], rank=0, world_size=1)
    plan = sampler_plan(sizes, ratio, batch_size=4)
    assert [p['quota'] for p in plan] == sampler.quotas
    # The sampler really draws those quotas.
    drawn = list(sampler)
    for p, start, end in zip(plan, [0] + ends[:-1], ends):
        assert sum(start <= i < end for i in drawn) == p['quota']


def test_the_issue_s_figures():
    uniform = sampler_plan(OFFLINE_57K, 'uniform', 64)
    assert [round(p['passes'], 3) for p in uniform] == [19.0, 0.345, 19.0]
    assert max(p['batches_without'] for p in uniform) < 1e-10
    size = sampler_plan(OFFLINE_57K, 'size', 64)
    assert [p['passes'] for p in size] == [1.0, 1.0, 1.0]
    # A third of the batches hold no sample of a small dataset.
    assert size[0]['batches_without'] == pytest.approx(0.322, abs=0.001)
    assert size[1]['batches_without'] < 1e-30

    t1 = sampler_plan(T1, 'size', 128)
    assert [p['passes'] for p in t1] == [1.0, 1.0, 1.0]
    assert max(p['batches_without'] for p in t1) < 1e-15
    t1u = sampler_plan(T1, 'uniform', 128)
    assert [round(p['passes'], 3) for p in t1u] == [1.333, 0.667, 1.333]


def test_batches_without_is_exact_on_a_tiny_case():
    # 2 of 4 samples from dataset 0, batches of 2: C(2,2)/C(4,2) = 1/6.
    plan = sampler_plan([2, 2], 'size', batch_size=2)
    assert plan[0]['batches_without'] == pytest.approx(1 / 6)
