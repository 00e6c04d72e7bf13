"""Distillation losses: values against hand computations."""
import math

import pytest
import torch

from mlfd_mm.models.losses import FeatureMSELoss, KDLoss, RKDLoss


def _hand_kd(student, teacher, temperature):
    """KL(p_t || p_s) per sample, averaged, times T^2, with plain math."""
    total = 0.
    for s_row, t_row in zip(student.tolist(), teacher.tolist()):
        s_exp = [math.exp(v / temperature) for v in s_row]
        t_exp = [math.exp(v / temperature) for v in t_row]
        p_s = [v / sum(s_exp) for v in s_exp]
        p_t = [v / sum(t_exp) for v in t_exp]
        total += sum(t * math.log(t / s) for t, s in zip(p_t, p_s))
    return temperature**2 * total / len(student)


def test_kd_matches_hand_computation():
    student = torch.tensor([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
    teacher = torch.tensor([[2.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
    for temperature in (1.0, 2.0, 4.0):
        loss = KDLoss(temperature=temperature)(student, teacher)
        assert loss.item() == pytest.approx(
            _hand_kd(student, teacher, temperature), rel=1e-5)


def test_kd_is_zero_when_student_equals_teacher():
    logits = torch.randn(5, 7)
    assert KDLoss(temperature=3.0)(logits, logits.clone()).item() == \
        pytest.approx(0., abs=1e-6)


def test_kd_temperature_squared_scaling_and_weight():
    student, teacher = torch.randn(4, 6), torch.randn(4, 6)
    temperature = 3.0
    loss = KDLoss(temperature=temperature)(student, teacher)
    # the same KL without the T^2 factor, from torch's own kl_div
    kl = torch.nn.functional.kl_div(
        torch.log_softmax(student / temperature, -1),
        torch.softmax(teacher / temperature, -1), reduction='batchmean')
    assert loss.item() == pytest.approx(temperature**2 * kl.item(), rel=1e-5)
    weighted = KDLoss(temperature=temperature, loss_weight=0.6)(student,
                                                                teacher)
    assert weighted.item() == pytest.approx(0.6 * loss.item(), rel=1e-6)


def test_kd_accepts_a_target_distribution():
    student, teacher = torch.randn(3, 5), torch.randn(3, 5)
    kd = KDLoss(temperature=2.0)
    probs = torch.softmax(teacher / 2.0, dim=-1)
    assert kd(student, target_probs=probs).item() == pytest.approx(
        kd(student, teacher).item(), rel=1e-6)
    # exact zeros in the target (a one-hot mixture) stay finite
    one_hot = torch.eye(5)[:3]
    assert torch.isfinite(kd(student, target_probs=one_hot))


def test_kd_gradient_reaches_student_only():
    student = torch.randn(3, 4, requires_grad=True)
    teacher = torch.randn(3, 4, requires_grad=True)
    KDLoss(temperature=2.0)(student, teacher).backward()
    assert student.grad is not None and student.grad.abs().sum() > 0
    assert teacher.grad is None


def test_kd_bad_arguments():
    with pytest.raises(ValueError, match='exactly one'):
        KDLoss()(torch.randn(2, 3))
    with pytest.raises(ValueError, match='differ in shape'):
        KDLoss()(torch.randn(2, 3), torch.randn(2, 4))
    with pytest.raises(ValueError, match='temperature'):
        KDLoss(temperature=0)


def test_feature_mse():
    student = torch.zeros(2, 3, 4, 4)
    teacher = torch.full((2, 3, 4, 4), 2.0)
    assert FeatureMSELoss()(student, teacher).item() == pytest.approx(4.0)
    assert FeatureMSELoss(loss_weight=0.5)(student, teacher).item() == \
        pytest.approx(2.0)
    with pytest.raises(ValueError, match='connector'):
        FeatureMSELoss()(torch.zeros(2, 3, 4, 4), torch.zeros(2, 5, 4, 4))


def test_rkd_zero_for_scaled_copies_and_positive_otherwise():
    torch.manual_seed(0)
    teacher = torch.randn(6, 10)
    rkd = RKDLoss(distance_weight=1.0, angle_weight=2.0)
    # distances are normalised by their mean and angles are scale-free, so
    # a scaled copy carries the same relations
    assert rkd(3 * teacher, teacher).item() == pytest.approx(0., abs=1e-6)
    other = torch.randn(6, 4, requires_grad=True)  # another width is fine
    loss = rkd(other, teacher)
    assert loss.item() > 0
    loss.backward()
    assert other.grad.abs().sum() > 0


def test_rkd_distance_term_by_hand():
    # three points on a line: distances 1, 2, 3 (mean 2); student doubled
    # the last gap: 1, 3, 4 (mean 8/3)
    teacher = torch.tensor([[0.], [1.], [3.]])
    student = torch.tensor([[0.], [1.], [4.]])
    loss = RKDLoss(distance_weight=1.0, angle_weight=0.)(student, teacher)
    t = [1 / 2, 2 / 2, 3 / 2]
    s = [1 / (8 / 3), 3 / (8 / 3), 4 / (8 / 3)]

    def smooth_l1(a, b):
        d = abs(a - b)
        return 0.5 * d * d if d < 1 else d - 0.5

    # 9 entries of the (3, 3) matrix: the diagonal is 0 in both, each
    # off-diagonal pair appears twice
    expected = 2 * sum(smooth_l1(a, b) for a, b in zip(s, t)) / 9
    assert loss.item() == pytest.approx(expected, rel=1e-5)
