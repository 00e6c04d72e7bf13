"""SharedBackboneClassifier: one network trained on all datasets at once."""
import copy
from typing import List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.registry import MODELS

from .multi_dataset_classifier import MultiDatasetClassifier


@MODELS.register_module()
class SharedBackboneClassifier(MultiDatasetClassifier):
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

    def __init__(self,
                 backbone: dict,
                 dataset_names: Sequence[str],
                 num_classes: Sequence[int],
                 neck: Optional[dict] = None,
                 head: dict = dict(type='MultiDatasetClsHead'),
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[dict] = None):
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

    def extract_feat(self,
                     inputs: torch.Tensor,
                     data_samples: Optional[list] = None) -> tuple:
        """Backbone (and neck) features.

        Args:
            inputs (Tensor): Normalised images, (N, 3, H, W).
            data_samples (list, optional): Unused; the signature of
                :meth:`MultiDatasetClassifier.extract_feat`.

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
