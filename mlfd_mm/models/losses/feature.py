"""Feature-map distillation losses."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.registry import MODELS


@MODELS.register_module()
class FeatureMSELoss(nn.Module):
    """Mean squared error between a student map and a teacher map.

    The student map is expected to be already mapped to the teacher's shape
    (see :class:`mlfd_mm.models.connectors.FeatureConnector`); the teacher
    map is a fixed target (detached).

    Args:
        loss_weight (float): Weight of the loss. Defaults to 1.0.
    """

    def __init__(self, loss_weight: float = 1.0):
        super().__init__()
        self.loss_weight = float(loss_weight)

    def forward(self, student_feat: torch.Tensor,
                teacher_feat: torch.Tensor) -> torch.Tensor:
        """Args:
            student_feat (Tensor): (N, C, H, W) student map, after connector.
            teacher_feat (Tensor): (N, C, H, W) teacher map.

        Returns:
            Tensor: scalar, the mean over all elements times ``loss_weight``.
        """
        if student_feat.shape != teacher_feat.shape:
            raise ValueError(
                f'FeatureMSELoss: student map {tuple(student_feat.shape)} '
                f'and teacher map {tuple(teacher_feat.shape)} differ in '
                'shape; put a connector in between')
        return self.loss_weight * F.mse_loss(student_feat,
                                             teacher_feat.detach())
