"""MultiDatasetClassifier: the base of models with one head per dataset."""
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModel


class MultiDatasetClassifier(BaseModel):
    """Features, then a :class:`MultiDatasetClsHead` with one classifier per
    dataset; each sample's loss and prediction use its own dataset's head.

    A sample's dataset comes from its data sample's metainfo
    (``dataset_name`` when it is one of ``dataset_names``, else
    ``dataset_idx``), as :class:`MultiDatasetWrapper` sets them. Subclasses
    set ``self.dataset_names`` and ``self.head`` and implement
    :meth:`extract_feat`.

    Args:
        data_preprocessor (dict | nn.Module, optional): Defaults to
            mmpretrain's ``ClsDataPreprocessor`` (without mean/std).
        init_cfg (dict, optional): Initialisation config.
    """

    dataset_names: List[str]
    head: nn.Module

    def __init__(self,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[dict] = None):
        if data_preprocessor is None:
            data_preprocessor = dict(
                type='ClsDataPreprocessor', _scope_='mmpretrain')
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)

    def extract_feat(self,
                     inputs: torch.Tensor,
                     data_samples: Optional[list] = None) -> tuple:
        """Feature maps for the head, shallow to deep, each (N, C, H, W)."""
        raise NotImplementedError

    # ------------------------------------------------------------------
    # samples -> datasets
    # ------------------------------------------------------------------
    def dataset_indices(self, data_samples: Sequence) -> torch.Tensor:
        """(B, ) dataset index of each sample, from its metainfo."""
        owner = type(self).__name__
        if data_samples is None:
            raise ValueError(
                f'{owner} needs data samples carrying dataset_idx / '
                'dataset_name (wrap the datasets in MultiDatasetWrapper)')
        indices = []
        for sample in data_samples:
            meta = sample.metainfo
            name = meta.get('dataset_name')
            if name in self.dataset_names:
                indices.append(self.dataset_names.index(name))
                continue
            idx = meta.get('dataset_idx')
            if idx is None:
                raise ValueError(
                    'a data sample has no dataset_idx / dataset_name in its '
                    'metainfo: wrap the datasets in MultiDatasetWrapper')
            if not 0 <= int(idx) < len(self.dataset_names):
                raise ValueError(
                    f'dataset_idx {int(idx)} (dataset_name {name!r}) is not '
                    f"one of the {owner}'s datasets {self.dataset_names}")
            indices.append(int(idx))
        return torch.tensor(indices, dtype=torch.long)

    @staticmethod
    def _labels(data_samples: Sequence) -> torch.Tensor:
        """(B, ) labels: on the host from host labels; where the data
        preprocessor has put them on a GPU, gathered there (reading each one
        back would make the host wait for the device once per sample)."""
        labels = [sample.gt_label for sample in data_samples]
        on_device = [lb for lb in labels if isinstance(lb, torch.Tensor)
                     and lb.device.type != 'cpu']
        if on_device and len(on_device) == len(labels):
            return torch.cat([lb.reshape(-1)[:1] for lb in labels]).long()
        return torch.tensor(
            [int(lb.reshape(-1)[0]) if isinstance(lb, torch.Tensor) else
             int(lb) for lb in labels], dtype=torch.long)

    # ------------------------------------------------------------------
    # modes
    # ------------------------------------------------------------------
    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[list] = None,
                mode: str = 'tensor'):
        """``mode``: ``'loss'`` (dict of losses), ``'predict'`` (data
        samples with scores of their own head) or ``'tensor'``
        (``dict(features=feature maps per level, logits=per-head logits)``,
        the logits one (N, num_classes[i]) tensor per dataset)."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            feats = self.extract_feat(inputs, data_samples)
            return dict(features=feats, logits=self.head(feats))
        raise RuntimeError(f'Invalid mode "{mode}": loss, predict or tensor')

    def loss(self, inputs: torch.Tensor,
             data_samples: Sequence) -> Dict[str, torch.Tensor]:
        """Each sample's cross-entropy on its own dataset's head.

        Returns:
            dict: ``loss_<dataset>`` for every dataset (see
            :meth:`MultiDatasetClsHead.loss_by_dataset`).
        """
        dataset_idx = self.dataset_indices(data_samples)
        labels = self._labels(data_samples)
        feats = self.extract_feat(inputs, data_samples)
        # Host tensors: the head checks and selects rows without waiting for
        # the device.
        return self.head.loss(feats, labels, dataset_idx)

    def predict(self, inputs: torch.Tensor, data_samples: Sequence) -> list:
        """Set ``pred_score`` / ``pred_label`` of each sample's own head and
        its ``dataset_name`` / ``dataset_idx``; return the samples."""
        dataset_idx = self.dataset_indices(data_samples)
        feats = self.extract_feat(inputs, data_samples)
        scores = self.head.predict_scores(feats, dataset_idx)
        for sample, idx, score in zip(data_samples, dataset_idx.tolist(),
                                      scores):
            sample.set_pred_score(score)
            sample.set_pred_label(score.argmax(dim=-1, keepdim=True))
            sample.set_metainfo(
                dict(dataset_idx=idx, dataset_name=self.dataset_names[idx]))
        return list(data_samples)
