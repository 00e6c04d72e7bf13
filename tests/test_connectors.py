"""Connectors between student and teacher feature maps."""
import pytest
import torch

from mlfd_mm.models.connectors import (FeatureConnector, align_spatial,
                                       build_connectors)


def test_connectors_only_where_channels_differ():
    connectors = build_connectors([(8, 16), (16, 16), (32, 16)])
    assert [c.project is not None for c in connectors] == [True, False, True]
    assert sum(p.numel() for p in connectors[1].parameters()) == 0
    # 1x1 conv (no bias, BN follows) + BN affine
    assert sum(p.numel() for p in connectors[0].parameters()) == \
        8 * 16 + 2 * 16
    conv, norm = connectors[2].project
    assert conv.kernel_size == (1, 1)
    assert (conv.in_channels, conv.out_channels) == (32, 16)
    assert isinstance(norm, torch.nn.BatchNorm2d)


def test_identity_connector_returns_its_input():
    connector = FeatureConnector(16, 16)
    assert connector.is_identity
    feat = torch.randn(2, 16, 7, 7)
    assert connector(feat, (7, 7)) is feat


@pytest.mark.parametrize('student_shape,teacher_shape', [
    ((2, 8, 16, 16), (2, 16, 8, 8)),    # larger student map: pooled
    ((2, 8, 4, 4), (2, 16, 8, 8)),      # smaller: interpolated
    ((2, 16, 14, 14), (2, 16, 7, 7)),   # same channels, resize only
    ((2, 8, 7, 7), (2, 32, 7, 7)),      # projection only
    ((2, 8, 8, 4), (2, 16, 4, 8)),      # mixed: interpolated
])
def test_connector_output_has_teacher_shape(student_shape, teacher_shape):
    connector = FeatureConnector(student_shape[1], teacher_shape[1])
    out = connector(torch.randn(*student_shape), teacher_shape[-2:])
    assert tuple(out.shape) == teacher_shape


def test_spatial_alignment_values():
    feat = torch.arange(16.).view(1, 1, 4, 4)
    pooled = align_spatial(feat, (2, 2))
    # averages of the four 2x2 blocks
    assert pooled.flatten().tolist() == [2.5, 4.5, 10.5, 12.5]
    constant = torch.full((1, 2, 3, 3), 5.0)
    assert torch.allclose(align_spatial(constant, (6, 6)),
                          torch.full((1, 2, 6, 6), 5.0))


def test_fitnet_options():
    regressor = FeatureConnector(16, 16, always_project=True,
                                 with_norm=False, l2_normalize=True)
    assert not regressor.is_identity
    assert isinstance(regressor.project[0], torch.nn.Conv2d)
    assert len(regressor.project) == 1 and regressor.project[0].bias \
        is not None
    out = regressor(torch.randn(3, 16, 5, 5), (5, 5))
    assert out.shape == (3, 16, 5, 5)


def test_connector_rejects_wrong_channels():
    with pytest.raises(ValueError, match='built for 8 channels'):
        FeatureConnector(8, 16)(torch.randn(1, 4, 3, 3), (3, 3))


def test_gradient_flows_through_connector():
    connector = FeatureConnector(4, 8)
    feat = torch.randn(2, 4, 6, 6, requires_grad=True)
    connector(feat, (3, 3)).pow(2).mean().backward()
    assert feat.grad.abs().sum() > 0
    assert connector.project[0].weight.grad.abs().sum() > 0
