"""How a FrozenTeacher reads its stage-1 config and builds its backbone,
neck and head (a mixin of :class:`~mlfd_mm.models.teachers.FrozenTeacher`:
it uses the teacher's ``scope`` and ``_name``)."""
import copy
from typing import List, Optional, Tuple

import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope

from ..config import as_dict, resolve_model_config, whole_config
from .backbone_stages import (STAGE_COUNTERS, LevelSpec, as_index_list,
                              count_backbone_stages)


class TeacherBuilding:
    """Config reading and building of a frozen teacher."""

    @staticmethod
    def _read_config(config, name) -> Tuple[dict, dict, str, Optional[Config]]:
        """Returns (model cfg, data preprocessor cfg, scope, whole config)."""
        what = f'teacher {name or config!r}'
        # Kept for the test pipeline's crop size and the clips' segments.
        file_cfg = whole_config(config, what)
        model_cfg, scope = resolve_model_config(
            file_cfg if file_cfg is not None else config, what,
            default_scope='mmpretrain')
        preprocess = as_dict(model_cfg.get('data_preprocessor') or {})
        return model_cfg, preprocess, scope, file_cfg

    def _build(self, backbone_cfg: dict) -> nn.Module:
        cfg = copy.deepcopy(backbone_cfg)
        if str(cfg.get('type', '')).split('.')[-1] == 'TIMMBackbone':
            # The checkpoint holds every weight: never download timm's.
            cfg['pretrained'] = False
        with DefaultScope.overwrite_default_scope(self.scope):
            return MODELS.build(cfg)

    def _build_backbone(self, backbone_cfg: dict,
                        levels: LevelSpec) -> Tuple[nn.Module, List[int]]:
        """Build the backbone with every stage as an output.

        Returns the backbone and its out indices. The stage count is read
        from a first build (``STAGE_COUNTERS``); ``out_indices`` is then set
        on the config before the real build, because timm features_only
        models are only built up to their largest out index.
        """
        probe = self._build(backbone_cfg)
        num_stages = count_backbone_stages(probe)
        if num_stages is None:
            if isinstance(levels, str):
                raise ValueError(
                    f'teacher {self._name!r}: cannot tell the stages of '
                    f'backbone {type(probe).__name__} (known: '
                    f'{sorted(STAGE_COUNTERS)}, TIMMBackbone only with '
                    'features_only=True); give explicit levels, e.g. '
                    'levels=(1, 2, 3), as indices of its out_indices')
            out_indices = sorted({int(i) for i in as_index_list(levels)})
        else:
            out_indices = list(range(num_stages))
        del probe
        cfg = dict(copy.deepcopy(backbone_cfg), out_indices=tuple(out_indices))
        try:
            return self._build(cfg), out_indices
        except (TypeError, ValueError, AssertionError) as err:
            built = f'{cfg.get("type")} with out_indices={tuple(out_indices)}'
            raise ValueError(f'teacher {self._name!r}: could not build '
                             f'backbone {built}: {err}') from err

    def _build_head(self, model_cfg: dict, backbone_cfg: dict,
                    out_indices: List[int]):
        """Build the stock neck and head, and find which backbone outputs
        the stock model hands them."""
        head_key = 'cls_head' if model_cfg.get('cls_head') else 'head'
        if not model_cfg.get(head_key):
            raise ValueError(
                f'teacher {self._name!r}: with_head=True but its model '
                f'config has no `head` nor `cls_head` (keys: '
                f'{sorted(model_cfg)})')
        stock = backbone_cfg.get('out_indices')
        if stock is None:
            stock = [out_indices[-1]]
        stock = [int(i) for i in ([stock] if isinstance(stock, int) else
                                  stock)]
        stock = [i + len(out_indices) if i < 0 else i for i in stock]
        absent = sorted(set(stock).difference(out_indices))
        if absent:
            raise ValueError(
                f'teacher {self._name!r}: the head takes backbone stages '
                f'{absent}, which the backbone does not have (stages '
                f'{out_indices})')
        self._head_positions = [out_indices.index(i) for i in stock]
        self._head_key = head_key
        # mmaction2 backbones return a bare tensor for one out index.
        self._bare_head_input = head_key == 'cls_head'
        if model_cfg.get('neck'):
            self.neck = self._build(as_dict(model_cfg['neck']))
        self.head = self._build(as_dict(model_cfg[head_key]))
