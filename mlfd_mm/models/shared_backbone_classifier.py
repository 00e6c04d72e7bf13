"""SharedBackboneClassifier: one network trained on all datasets at once."""
import copy
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.registry import MODELS

from .joint_teacher import JointTeacher


@MODELS.register_module()
class SharedBackboneClassifier(BaseModel):
    """The "jointly trained on all datasets" baseline of MLFD.

    One backbone of a teacher's architecture, trained from scratch and
    shared by every dataset, with one classifier per dataset
    (:class:`MultiDatasetClsHead`), trained on the mixed batches of
    :class:`MultiDatasetWrapper`. Unlike :class:`JointTeacher`, nothing is
    frozen: backbone, neck and heads all learn. Each sample's loss and
    prediction use its own dataset's head; its dataset is read from its data
    sample exactly as the joint teacher reads it.

    Args:
        backbone (dict): Backbone config (mmpretrain, with ``_scope_``),
            e.g. ``dict(type='ResNet', depth=18, _scope_='mmpretrain')``.
        dataset_names (Sequence[str]): The datasets, in the order of the
            heads; the names the :class:`MultiDatasetWrapper` gives them.
        num_classes (Sequence[int]): Classes of each dataset.
        neck (dict, optional): Neck config, e.g. mmpretrain's
            ``GlobalAveragePooling``. Its pooled (N, C) outputs reach the
            head as (N, C, 1, 1) maps. Defaults to None: the head pools.
        head (dict): Head config; ``num_classes`` and ``dataset_names`` are
            set here, ``in_channels`` unless given (then it is the channels
            of the backbone's deepest output). Defaults to
            ``MultiDatasetClsHead``.
        data_preprocessor (dict | nn.Module, optional): Defaults to
            mmpretrain's ClsDataPreprocessor; give it the ``mean``/``std``
            (and ``to_rgb``) shared by all datasets.
        init_cfg (dict, optional): Initialisation config.
    """

    # A sample's dataset and label are read as in JointTeacher: these only
    # need ``self.dataset_names``.
    dataset_indices = JointTeacher.dataset_indices
    _labels = staticmethod(JointTeacher._labels)

    def __init__(self,
                 backbone: dict,
                 dataset_names: Sequence[str],
                 num_classes: Sequence[int],
                 neck: Optional[dict] = None,
                 head: dict = dict(type='MultiDatasetClsHead'),
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[dict] = None):
        if data_preprocessor is None:
            data_preprocessor = dict(
                type='ClsDataPreprocessor', _scope_='mmpretrain')
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if isinstance(num_classes, int) or isinstance(dataset_names, str):
            raise ValueError(
                'SharedBackboneClassifier: dataset_names and num_classes '
                'must be lists (one entry per dataset), got '
                f'dataset_names={dataset_names!r}, '
                f'num_classes={num_classes!r}')
        self.dataset_names: List[str] = [str(n) for n in dataset_names]
        if len(set(self.dataset_names)) != len(self.dataset_names):
            raise ValueError(
                f'SharedBackboneClassifier: dataset names must be unique, '
                f'got {self.dataset_names}')
        if len(num_classes) != len(self.dataset_names):
            raise ValueError(
                f'SharedBackboneClassifier: {len(num_classes)} heads '
                f'(num_classes={list(num_classes)}) for '
                f'{len(self.dataset_names)} datasets {self.dataset_names}')
        self.num_classes: List[int] = [int(k) for k in num_classes]

        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck) if neck is not None else None

        head = copy.deepcopy(dict(head))
        for key, value in (('num_classes', self.num_classes),
                           ('dataset_names', self.dataset_names)):
            if key in head and list(head[key]) != value:
                raise ValueError(
                    f'SharedBackboneClassifier: head.{key}={head[key]} but '
                    f'the model has {key}={value}')
            head[key] = value
        if 'in_channels' not in head:
            head['in_channels'] = self._deepest_channels()
        self.head = MODELS.build(head)

    def _deepest_channels(self) -> int:
        """Channels of the deepest feature, found by a tiny forward."""
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                feats = self.extract_feat(torch.zeros(1, 3, 64, 64))
        finally:
            self.train(was_training)
        return int(feats[-1].shape[1])

    def extract_feat(self, inputs: torch.Tensor) -> tuple:
        """Backbone (and neck) features.

        Args:
            inputs (Tensor): Normalised images, (N, 3, H, W).

        Returns:
            tuple[Tensor]: The backbone's outputs, shallow to deep, each
            (N, C, H, W); pooled (N, C) neck outputs become (N, C, 1, 1).
        """
        feats = self.backbone(inputs)
        if isinstance(feats, torch.Tensor):
            feats = (feats, )
        if self.neck is not None:
            feats = self.neck(feats)
            if isinstance(feats, torch.Tensor):
                feats = (feats, )
        return tuple(f[..., None, None] if f.dim() == 2 else f for f in feats)

    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[list] = None,
                mode: str = 'tensor'):
        """``mode``: ``'loss'`` (dict of losses), ``'predict'`` (data
        samples with scores of their own head) or ``'tensor'``
        (``dict(features=feature maps, logits=per-head logits)``, the
        logits one (N, num_classes[i]) tensor per dataset)."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            feats = self.extract_feat(inputs)
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
        feats = self.extract_feat(inputs)
        device = feats[-1].device
        return self.head.loss(feats, labels.to(device),
                              dataset_idx.to(device))

    def predict(self, inputs: torch.Tensor, data_samples: Sequence) -> list:
        """Set ``pred_score`` / ``pred_label`` of each sample's own head and
        its ``dataset_name`` / ``dataset_idx``; return the samples."""
        dataset_idx = self.dataset_indices(data_samples)
        scores = self.head.predict_scores(
            self.extract_feat(inputs), dataset_idx)
        for sample, idx, score in zip(data_samples, dataset_idx.tolist(),
                                      scores):
            sample.set_pred_score(score)
            sample.set_pred_label(score.argmax(dim=-1, keepdim=True))
            sample.set_metainfo(
                dict(dataset_idx=idx, dataset_name=self.dataset_names[idx]))
        return list(data_samples)
