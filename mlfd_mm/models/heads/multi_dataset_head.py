"""MultiDatasetClsHead: one linear classifier per dataset."""
from typing import List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmengine.registry import MODELS


@MODELS.register_module()
class MultiDatasetClsHead(BaseModule):
    """Global average pooling, dropout and one linear classifier per dataset.

    Every head scores every sample (cheap, and it keeps all heads in the
    graph, which DDP needs); each sample's loss and prediction use only its
    own dataset's head.

    Args:
        num_classes (Sequence[int]): Classes of each dataset.
        in_channels (int): Channels of the deepest joint feature map.
        dataset_names (Sequence[str], optional): Names of the datasets, used
            in loss names and messages. Defaults to ``dataset0``, ...
        dropout (float): Dropout before the classifiers. Defaults to 0.
        label_smoothing (float): Label smoothing of the cross-entropy.
            Defaults to 0.
        loss_weight (float): Weight of the loss. Defaults to 1.
        num_segments (int): Frames per clip; logits are averaged over them
            (segmental consensus). Defaults to 1 (images).
        init_cfg (dict | list[dict]): Defaults to Normal(std=0.01) on the
            linear layers.
    """

    def __init__(self,
                 num_classes: Sequence[int],
                 in_channels: int,
                 dataset_names: Optional[Sequence[str]] = None,
                 dropout: float = 0.0,
                 label_smoothing: float = 0.0,
                 loss_weight: float = 1.0,
                 num_segments: int = 1,
                 init_cfg: Optional[Union[dict, List[dict]]] = dict(
                     type='Normal', layer='Linear', std=0.01)):
        super().__init__(init_cfg=init_cfg)
        if isinstance(num_classes, int) or not num_classes:
            raise ValueError(
                'MultiDatasetClsHead: num_classes must list the classes of '
                f'each dataset, got {num_classes!r}')
        if dataset_names is None:
            dataset_names = [f'dataset{i}' for i in range(len(num_classes))]
        if len(dataset_names) != len(num_classes):
            raise ValueError(
                f'MultiDatasetClsHead: {len(num_classes)} heads (num_classes='
                f'{list(num_classes)}) for {len(dataset_names)} datasets '
                f'{list(dataset_names)}')
        bad = [(n, k) for n, k in zip(dataset_names, num_classes)
               if int(k) < 1]
        if bad:
            raise ValueError(
                f'MultiDatasetClsHead: num_classes must be >= 1, got {bad}')
        self.num_classes = [int(k) for k in num_classes]
        self.dataset_names = list(dataset_names)
        self.in_channels = in_channels
        self.label_smoothing = label_smoothing
        self.loss_weight = loss_weight
        self.num_segments = int(num_segments)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fcs = nn.ModuleList(
            nn.Linear(in_channels, k) for k in self.num_classes)

    def pre_logits(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        """Pooled deepest joint level, (B*S, C)."""
        return self.dropout(feats[-1].mean(dim=(2, 3)))

    def forward(self, feats: Sequence[torch.Tensor]) -> tuple:
        """Logits of every head.

        Args:
            feats (Sequence[Tensor]): Joint maps, the deepest last,
                (B*S, C, H, W).

        Returns:
            tuple[Tensor]: One (B, num_classes[i]) tensor per dataset.
        """
        x = self.pre_logits(feats)
        if x.size(0) % self.num_segments:
            raise ValueError(
                f'MultiDatasetClsHead: {x.size(0)} frames is not a multiple '
                f'of num_segments={self.num_segments}')
        logits = []
        for fc in self.fcs:
            out = fc(x)
            logits.append(
                out.view(-1, self.num_segments, out.size(-1)).mean(dim=1))
        return tuple(logits)

    def check_labels(self, labels: torch.Tensor, dataset_idx: torch.Tensor):
        """Raise if a label is outside its dataset's head.

        One comparison over the batch: with labels on a GPU this waits for
        the device once (``any``), not once per dataset.
        """
        limits = torch.tensor(self.num_classes,
                              device=dataset_idx.device)[dataset_idx]
        limits = limits.to(labels.device, non_blocking=True)
        bad = (labels < 0) | (labels >= limits)
        if bad.any():
            first = int(bad.nonzero()[0])
            i = int(dataset_idx[first])
            name, k = self.dataset_names[i], self.num_classes[i]
            raise ValueError(
                f'label {int(labels[first])} of dataset {name!r} is outside '
                f'its head (num_classes={k}, valid labels 0..{k - 1})')

    def loss_by_dataset(self, logits: Sequence[torch.Tensor],
                        labels: torch.Tensor,
                        dataset_idx: torch.Tensor) -> dict:
        """Cross-entropy of each sample on its own dataset's head.

        Args:
            logits (Sequence[Tensor]): Output of :meth:`forward`.
            labels (Tensor): (B, ) class index within the sample's dataset,
                on the host or the logits' device.
            dataset_idx (Tensor): (B, ) dataset index of each sample; on the
                host, nothing here waits for the device.

        Returns:
            dict: ``loss_<name>`` per dataset: the sum of its samples'
            cross-entropy divided by the batch size, so that the losses add
            up to the batch mean (mmengine logs the sum as ``loss``). A
            dataset without samples in the batch gets an exact zero that
            still depends on its head (zero gradient, no NaN, DDP-safe).
        """
        # Labels and dataset indices on the host (as MultiDatasetClassifier
        # passes them) keep the checks and the row selection off the device:
        # no host-device synchronisation in the step.
        self.check_labels(labels, dataset_idx)
        batch = max(labels.numel(), 1)
        losses = {}
        for i, (name, out) in enumerate(zip(self.dataset_names, logits)):
            rows = (dataset_idx == i).nonzero().flatten()
            if rows.numel():
                rows = rows.to(out.device, non_blocking=True)
                own = labels.to(out.device, non_blocking=True)
                loss = F.cross_entropy(
                    out.index_select(0, rows), own.index_select(0, rows),
                    reduction='sum',
                    label_smoothing=self.label_smoothing) / batch
            else:
                loss = out.sum() * 0.0
            losses[f'loss_{name}'] = loss * self.loss_weight
        return losses

    def loss(self, feats: Sequence[torch.Tensor], labels: torch.Tensor,
             dataset_idx: torch.Tensor) -> dict:
        """Losses from the joint features; see :meth:`loss_by_dataset`."""
        return self.loss_by_dataset(self(feats), labels, dataset_idx)

    def predict_scores(self, feats: Sequence[torch.Tensor],
                       dataset_idx: torch.Tensor) -> List[torch.Tensor]:
        """Softmax scores of each sample's own head, one (K_i, ) per sample."""
        scores = [out.softmax(dim=-1) for out in self(feats)]
        return [scores[int(i)][b] for b, i in enumerate(dataset_idx)]
