"""Export the student of a distiller (MLFD or AMTML-KD) as a stock OpenMMLab
model: a checkpoint and a standalone config that load without mlfd_mm.

- ``student.pth``: ``state_dict`` of the student classifier alone, keys as
  the stock model names them, and ``meta`` (the dataset's classes); plain
  tensors and Python values only, so stock toolboxes load it with
  ``torch.load(weights_only=True)``;
- ``student_config.py``: the student model with its own ``out_indices``, the
  data preprocessor (mean/std) it was trained with, the test
  pipeline/dataloader/evaluator of the distiller's config and the student
  toolbox's ``default_scope``. A dataset or metric of ours with a stock
  equivalent is written as that (e.g. CheckedVideoDataset -> VideoDataset,
  AccMAPMetric -> AccMetric); any other section using our types is left out
  with a warning.
"""
import copy
import os
import os.path as osp
import sys

import torch
from mmengine import registry as mm_registry
from mmengine.config import Config, ConfigDict
from mmengine.registry import MODELS, DefaultScope

from ..checkpoint import (load_checkpoint_file, state_dict_mismatch,
                          state_dict_of)
from ..config import resolve_model_config
from ..models.distillers.student import student_data_preprocessor
from ..atomic_files import atomic_write, atomic_write_text

STUDENT_PREFIX = 'student.'
# Sections of the distiller config carried over when they are stock.
_EVAL_KEYS = ('test_pipeline', 'test_dataloader', 'test_evaluator',
              'test_cfg', 'val_dataloader', 'val_evaluator', 'val_cfg')


def _plain_values(value):
    """A deep copy made of plain Python values: what
    ``torch.load(weights_only=True)`` and a config file can hold."""
    if isinstance(value, (ConfigDict, dict)):
        return {str(k): _plain_values(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain_values(v) for v in value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, 'tolist'):  # numpy / torch scalars and arrays
        return value.tolist()
    return str(value)


def _our_classes():
    """name -> class of what mlfd_mm registered in mmengine's root
    registries."""
    classes = {}
    for attr in dir(mm_registry):
        reg = getattr(mm_registry, attr)
        if isinstance(reg, mm_registry.Registry):
            for name, cls in reg.module_dict.items():
                if getattr(cls, '__module__', '').startswith('mlfd_mm'):
                    classes[name] = cls
    return classes


def _with_stock_types(node, our_classes):
    """``node`` with every config of a class of ours that offers a stock
    equivalent (a ``stock_config(cfg)`` classmethod) replaced by that stock
    config."""
    if isinstance(node, dict):
        type_value = node.get('type')
        while isinstance(type_value, str):  # a wrapper may wrap ours again
            cls = our_classes.get(type_value.split('.')[-1])
            if cls is None or not hasattr(cls, 'stock_config'):
                break
            node = cls.stock_config(dict(node))
            if not isinstance(node, dict) or node.get('type') == type_value:
                break
            type_value = node.get('type')
        if not isinstance(node, dict):
            return _with_stock_types(node, our_classes)
        return {k: _with_stock_types(v, our_classes) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return type(node)(_with_stock_types(v, our_classes) for v in node)
    return node


def _types_in(node, path, found):
    """Collect (config key path, type) of every ``type`` below node."""
    if isinstance(node, dict):
        for key, value in node.items():
            child = f'{path}.{key}'
            if key == 'type':
                found.append((child, value))
            else:
                _types_in(value, child, found)
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            _types_in(value, f'{path}[{i}]', found)
    return found


def _is_ours(type_value, our_names):
    if isinstance(type_value, str):
        return type_value.split('.')[-1] in our_names
    return getattr(type_value, '__module__', '').startswith('mlfd_mm')


def load_student_state(checkpoint):
    """The student's weights (keys without ``student.``) and the ``meta`` of
    a distiller checkpoint, loaded safely."""
    loaded = load_checkpoint_file(checkpoint, 'student export')
    if not isinstance(loaded, dict):
        raise ValueError(f'{checkpoint} is not an mmengine checkpoint (got '
                         f'{type(loaded).__name__})')
    state = state_dict_of(loaded)
    student = {k[len(STUDENT_PREFIX):]: v for k, v in state.items()
               if k.startswith(STUDENT_PREFIX)}
    if not student:
        prefixes = sorted({k.split('.')[0] for k in state})
        raise ValueError(
            f'{checkpoint} holds no student: none of its '
            f'{len(state)} weights start with {STUDENT_PREFIX!r} (top-level '
            f'names: {prefixes[:8]}). Give a checkpoint of an MLFDDistiller '
            'run (a student config\'s work_dir), not a teacher\'s.')
    return student, loaded.get('meta') or {}


def build_export_config(cfg):
    """The standalone config of the student.

    Args:
        cfg (Config): the distiller's training config.

    Returns:
        tuple[dict, list]: the exported config (a plain dict), and the
        ``(section, [(key path, type), ...])`` of each evaluation section
        left out because it uses types of mlfd_mm.
    """
    model_cfg = cfg.get('model')
    if not isinstance(model_cfg, dict) or 'student' not in model_cfg:
        model_type = model_cfg.get('type') if isinstance(model_cfg,
                                                         dict) else None
        raise ValueError(f'{cfg.filename}: `model` is {model_type}, not a '
                         'distiller with a `student`')
    student, scope = resolve_model_config(model_cfg['student'], 'student',
                                          cfg.get('default_scope'))
    student = _plain_values(student)
    # The Runner gives the model the top-level data_preprocessor unless the
    # model config has its own: the distiller saw the same.
    distiller_preprocessor = model_cfg.get('data_preprocessor') or cfg.get(
        'data_preprocessor')
    preprocessor = _plain_values(
        student_data_preprocessor(student, distiller_preprocessor, scope))
    student['data_preprocessor'] = copy.deepcopy(preprocessor)
    student.setdefault('_scope_', scope)

    our_classes = _our_classes()
    our_names = set(our_classes)
    bad = [(p, t) for p, t in _types_in(student, 'model.student', [])
           if _is_ours(t, our_names)]
    if bad:
        raise ValueError(
            f'the student uses types of mlfd_mm, so it cannot be exported as '
            f'a stock model: {bad}')
    # log_level: mmpretrain's own analysis tools (vis_tsne.py) read it.
    exported = dict(default_scope=scope, model=student,
                    data_preprocessor=copy.deepcopy(preprocessor),
                    log_level=cfg.get('log_level', 'INFO'))
    skipped = []
    for key in _EVAL_KEYS:
        if key not in cfg:
            continue
        value = _with_stock_types(_plain_values(cfg[key]), our_classes)
        ours = [(p, t) for p, t in _types_in(value, key, [])
                if _is_ours(t, our_names)]
        if ours:
            skipped.append((key, ours))
            continue
        exported[key] = value
    return exported, skipped


def export_student(config, checkpoint, out_dir):
    """Write ``student.pth`` and ``student_config.py`` into ``out_dir``.

    Args:
        config (str | Config): The distiller's training config.
        checkpoint (str): A checkpoint of the distiller.
        out_dir (str): Output directory (created).

    Returns:
        tuple[str, str]: Paths of the checkpoint and the config written.
    """
    cfg = config if isinstance(config, Config) else Config.fromfile(config)
    exported, skipped = build_export_config(cfg)
    for key, types in skipped:
        print(f'warning: {key} not exported: it uses types of mlfd_mm '
              f'{types}', file=sys.stderr)
    state, meta = load_student_state(checkpoint)

    with DefaultScope.overwrite_default_scope(exported['default_scope']):
        stock = MODELS.build(copy.deepcopy(exported['model']))
    own = stock.state_dict()
    # Weights the distiller needed only for its extra stage outputs (e.g. a
    # per-output norm) are left out: the stock model does not have them.
    problems = state_dict_mismatch(
        own, {k: v for k, v in state.items() if k in own})
    if problems:
        raise ValueError(
            f'the student in {checkpoint} does not match the student of the '
            'config: ' + '; '.join(problems))
    student_state = {k: state[k].detach().clone().contiguous() for k in own}

    meta_out = dict(
        exported_from=osp.abspath(checkpoint),
        epoch=meta.get('epoch'), iter=meta.get('iter'))
    if 'dataset_meta' in meta:
        meta_out['dataset_meta'] = meta['dataset_meta']
    os.makedirs(out_dir, exist_ok=True)
    text = Config(exported).pretty_text
    if 'mlfd_mm' in text:
        raise ValueError(
            'the exported config still mentions mlfd_mm; it would not load '
            'without it')
    # Each file is written aside, fsynced and renamed into place, the config
    # last: a killed export leaves no truncated file under either name.
    ckpt_path = osp.join(out_dir, 'student.pth')
    atomic_write(ckpt_path, lambda f: torch.save(
        dict(state_dict=student_state, meta=_plain_values(meta_out)), f),
        mode='wb')
    cfg_path = osp.join(out_dir, 'student_config.py')
    atomic_write_text(
        cfg_path, f'# Student exported from {osp.abspath(checkpoint)}\n'
        f'# by tools/export_student.py; a stock '
        f'{exported["default_scope"]} config.\n' + text)
    return ckpt_path, cfg_path
