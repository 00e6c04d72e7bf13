"""Checks of the loaders a run builds: every ``data_root`` exists, and clips
have the frames that the model's ``num_segments`` expects."""
import os.path as osp
from typing import Iterator, Optional, Tuple

_DATALOADER_KEYS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _iter_data_roots(node, key_path):
    """Yield (config key path, data_root) for every ``data_root`` below node."""
    if isinstance(node, dict):
        for key, value in node.items():
            child = f'{key_path}.{key}'
            if key == 'data_root' and isinstance(value, str) and value:
                yield child, value
            else:
                yield from _iter_data_roots(value, child)
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _iter_data_roots(value, f'{key_path}[{i}]')


def check_data_roots(cfg, phases=_DATALOADER_KEYS):
    """Raise FileNotFoundError naming the config key and path of a missing
    ``data_root`` in the dataloaders the run will build.

    Args:
        cfg (mmengine.Config): the full config.
        phases (Sequence[str]): dataloader keys to check.
    """
    for phase in phases:
        loader = cfg.get(phase)
        if not loader:
            continue
        for key_path, root in _iter_data_roots(loader, phase):
            if osp.isdir(root):
                continue
            hint = ''
            if 'offline' in root.replace('\\', '/').split('/'):
                hint = (' Build the offline datasets with '
                        '`python tools/prepare_offline_data.py` (or '
                        '`make data`).')
            raise FileNotFoundError(
                f'{key_path} = {root!r}: data root does not exist '
                f'(resolved to {osp.abspath(root)!r}).{hint}')


def _as_plain(node):
    return node.to_dict() if hasattr(node, 'to_dict') else node


def _clip_frames(dataset) -> Optional[Tuple[int, str]]:
    """(frames per clip, how) of a dataset config whose pipeline samples
    clips (mmaction2's SampleFrames), else None."""
    pipeline = dataset.get('pipeline') if isinstance(dataset, dict) else None
    for step in reversed(pipeline or []):
        if isinstance(step, dict) and str(step.get('type', '')).split(
                '.')[-1] == 'SampleFrames':
            clip_len = int(step.get('clip_len', 1))
            num_clips = int(step.get('num_clips', 1))
            return clip_len * num_clips, (f'SampleFrames clip_len={clip_len} '
                                          f'x num_clips={num_clips}')
    return None


def _datasets_of(dataset, key_path) -> Iterator[Tuple[str, dict]]:
    """(config key path, dataset config) of a loader's dataset, and of every
    dataset a MultiDatasetWrapper holds (``config=`` entries resolved)."""
    dataset = _as_plain(dataset)
    if not isinstance(dataset, dict):
        return
    if str(dataset.get('type', '')).split('.')[-1] == 'MultiDatasetWrapper':
        from mlfd_mm.datasets.multi_dataset import resolve_dataset_config
        for i, entry in enumerate(dataset.get('datasets') or []):
            entry = _as_plain(entry)
            if isinstance(entry, dict):
                where = f'{key_path}.datasets[{i}]'
                if 'config' in entry:
                    where += f' ({entry["config"]}, {entry.get("split")})'
                yield where, resolve_dataset_config(entry)
        return
    yield key_path, dataset


def _segments_of_model(model, where) -> Iterator[Tuple[str, int]]:
    """(config key, num_segments) of a recognizer config's backbone and
    head, of a distiller's student, and of a joint teacher's teachers."""
    model = _as_plain(model)
    if isinstance(model, str):  # a config file whose model it is
        from mmengine.config import Config
        if not osp.isfile(model):
            return
        model = _as_plain(Config.fromfile(model).get('model'))
    if not isinstance(model, dict):
        return
    for part in ('backbone', 'cls_head'):
        sub = model.get(part)
        if isinstance(sub, dict) and sub.get('num_segments'):
            yield f'{where}.{part}.num_segments', int(sub['num_segments'])
    if model.get('student') is not None:
        yield from _segments_of_model(model['student'], f'{where}.student')
    for i, teacher in enumerate(model.get('teachers') or []):
        teacher = _as_plain(teacher)
        if not isinstance(teacher, dict):
            continue
        name = f'{where}.teachers[{i}]'
        if teacher.get('num_segments'):
            yield f'{name}.num_segments', int(teacher['num_segments'])
        elif teacher.get('config') is not None:
            yield from _segments_of_model(teacher['config'],
                                          f'{name} ({teacher.get("name")})')


def check_clip_frames(cfg, phases=_DATALOADER_KEYS):
    """Raise ValueError when a dataloader's clips do not have the frames
    that the model's ``num_segments`` expects, naming both numbers.

    A temporal-shift model (TSM) shifts features between the
    ``num_segments`` frames of a clip, so clips of another length are
    either refused deep inside the model or, worse, silently regrouped.
    The frames of a clip are those that the pipeline's ``SampleFrames``
    samples (``clip_len * num_clips``). Training clips must have exactly
    ``num_segments`` frames; validation and test clips a multiple of it
    (several views of ``num_segments`` frames each). Models and datasets
    without segments (images, TSN) are not checked.

    Args:
        cfg (mmengine.Config): the full config.
        phases (Sequence[str]): dataloader keys to check.
    """
    segments = list(_segments_of_model(cfg.get('model'), 'model'))
    if not segments:
        return
    for phase in phases:
        loader = cfg.get(phase)
        if not loader or not loader.get('dataset'):
            continue
        for where, dataset in _datasets_of(loader['dataset'],
                                           f'{phase}.dataset'):
            found = _clip_frames(dataset)
            if found is None:
                continue
            frames, how = found
            for key, num_segments in segments:
                fits = (frames == num_segments if phase == 'train_dataloader'
                        else frames % num_segments == 0)
                if not fits:
                    raise ValueError(
                        f'{where} gives clips of {frames} frames ({how}) '
                        f'but {key} = {num_segments}: the clips of '
                        f'{phase} must have '
                        + ('exactly' if phase == 'train_dataloader' else
                           'a multiple of')
                        + f' {num_segments} frames')
