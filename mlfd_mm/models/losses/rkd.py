"""Relational knowledge distillation (Park et al., CVPR 2019)."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.registry import MODELS


def _pairwise_distances(embed: torch.Tensor) -> torch.Tensor:
    """(N, D) -> (N, N) Euclidean distances, exactly zero on the diagonal."""
    squared = embed.pow(2).sum(dim=1)
    dist = squared.unsqueeze(0) + squared.unsqueeze(1) - 2 * embed @ embed.t()
    # Clamp before sqrt: rounding makes some entries slightly negative, and
    # sqrt's gradient at 0 is infinite.
    dist = dist.clamp(min=1e-12).sqrt()
    return dist * (1 - torch.eye(len(embed), device=embed.device,
                                 dtype=embed.dtype))


def _normalised_distances(embed: torch.Tensor) -> torch.Tensor:
    dist = _pairwise_distances(embed)
    off_diagonal = dist[dist > 0]
    scale = off_diagonal.mean() if off_diagonal.numel() else dist.new_ones(())
    return dist / scale


def _angles(embed: torch.Tensor) -> torch.Tensor:
    """(N, D) -> (N, N, N); entry [j, i, k] is the cosine of the angle at
    e_j between e_i - e_j and e_k - e_j (0 where two points coincide)."""
    diff = F.normalize(embed.unsqueeze(0) - embed.unsqueeze(1), p=2, dim=2)
    return torch.bmm(diff, diff.transpose(1, 2))


@MODELS.register_module()
class RKDLoss(nn.Module):
    """Distance-wise and angle-wise relational distillation.

    Both terms compare the structure of a batch of embeddings rather than
    the embeddings themselves, so student and teacher may have different
    widths. Maps of shape (N, C, H, W) are flattened to (N, C*H*W).

    Args:
        distance_weight (float): Weight of the distance term. Defaults to 1.
        angle_weight (float): Weight of the angle term. Defaults to 2 (the
            paper's 25 : 50 ratio).
        loss_weight (float): Weight of the whole loss. Defaults to 1.
    """

    def __init__(self,
                 distance_weight: float = 1.0,
                 angle_weight: float = 2.0,
                 loss_weight: float = 1.0):
        super().__init__()
        self.distance_weight = float(distance_weight)
        self.angle_weight = float(angle_weight)
        self.loss_weight = float(loss_weight)

    def forward(self, student_embed: torch.Tensor,
                teacher_embed: torch.Tensor) -> torch.Tensor:
        """Args:
            student_embed (Tensor): (N, D_s) or (N, C, H, W).
            teacher_embed (Tensor): (N, D_t) or (N, C, H, W), a fixed target.

        Returns:
            Tensor: scalar loss (0 for a batch of one).
        """
        if student_embed.size(0) != teacher_embed.size(0):
            raise ValueError(
                f'RKDLoss: batch sizes differ: student '
                f'{student_embed.size(0)}, teacher {teacher_embed.size(0)}')
        student = student_embed.flatten(1)
        teacher = teacher_embed.detach().flatten(1).to(student.dtype)
        loss = student.new_zeros(())
        if self.distance_weight:
            with torch.no_grad():
                target = _normalised_distances(teacher)
            loss = loss + self.distance_weight * F.smooth_l1_loss(
                _normalised_distances(student), target)
        if self.angle_weight:
            with torch.no_grad():
                target = _angles(teacher)
            loss = loss + self.angle_weight * F.smooth_l1_loss(
                _angles(student), target)
        return self.loss_weight * loss
