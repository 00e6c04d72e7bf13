"""Soft-target knowledge distillation (Hinton et al., 2015)."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.registry import MODELS


@MODELS.register_module()
class KDLoss(nn.Module):
    """KL divergence between softened teacher and student distributions.

    ``loss = loss_weight * T^2 * mean_over_batch(KL(p_t || p_s))`` with
    ``p_s = softmax(student_logits / T)`` and ``p_t = softmax(teacher_logits
    / T)``. The ``T^2`` factor keeps the gradient scale independent of T.

    The target may instead be given as a distribution (``target_probs``),
    e.g. the per-instance mixture of several teachers' softened outputs in
    AMTML-KD; it must already be softened with the same temperature.

    Args:
        temperature (float): Softening temperature T. Defaults to 1.0.
        loss_weight (float): Weight of the loss. Defaults to 1.0.
    """

    def __init__(self, temperature: float = 1.0, loss_weight: float = 1.0):
        super().__init__()
        if temperature <= 0:
            raise ValueError(
                f'KDLoss: temperature must be > 0, got {temperature}')
        self.temperature = float(temperature)
        self.loss_weight = float(loss_weight)

    def forward(self,
                student_logits: torch.Tensor,
                teacher_logits: Optional[torch.Tensor] = None,
                target_probs: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Compute the loss.

        Args:
            student_logits (Tensor): (N, K) student logits.
            teacher_logits (Tensor, optional): (N, K) teacher logits.
            target_probs (Tensor, optional): (N, K) target distribution
                (rows sum to 1), instead of ``teacher_logits``.

        Returns:
            Tensor: scalar loss. No gradient flows into the target.
        """
        if (teacher_logits is None) == (target_probs is None):
            raise ValueError(
                'KDLoss: give exactly one of teacher_logits and target_probs')
        target = target_probs if target_probs is not None else F.softmax(
            teacher_logits / self.temperature, dim=-1)
        # At least fp32: under bf16 autocast the logits are bf16, whose
        # three significant digits would round the target probabilities.
        dtype = torch.promote_types(student_logits.dtype, torch.float32)
        target = target.detach().to(dtype)
        if target.shape != student_logits.shape:
            raise ValueError(
                f'KDLoss: student logits {tuple(student_logits.shape)} and '
                f'target {tuple(target.shape)} differ in shape')
        log_student = F.log_softmax(
            student_logits.to(dtype) / self.temperature, dim=-1)
        # xlogy: 0 * log(0) = 0 for targets with exact zeros.
        kl = (torch.xlogy(target, target) - target * log_student).sum(-1)
        return self.loss_weight * self.temperature**2 * kl.mean()
