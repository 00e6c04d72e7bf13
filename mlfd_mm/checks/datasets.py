"""Checks of a run's datasets against each other, its model and its
evaluators: a student's ``dataset`` against its data, one input size per
multi-dataset loader, evaluators' ``topk`` against class counts."""
import os
import os.path as osp
from typing import Iterator, List, Optional, Tuple

from mmengine.config import Config

# The transforms whose output has a fixed size, and the argument naming it
# (mmpretrain's and mmaction2's alike; sizes are (w, h) or one int).
_SIZE_STEPS = {
    'CenterCrop': 'crop_size', 'RandomCrop': 'crop_size',
    'RandomResizedCrop': 'scale', 'Resize': 'scale',
    'ThreeCrop': 'crop_size', 'TenCrop': 'crop_size', 'Crop': 'crop_size',
}
# Transforms whose output size depends on the input: the size is unknown.
_FREE_STEPS = ('ResizeEdge', 'RandomResize', 'MultiScaleCrop', 'Pad')
_IMAGE_EXTS = ('.png', '.jpg', '.jpeg', '.bmp', '.ppm', '.webp', '.tif')


def _plain(node):
    return node.to_dict() if hasattr(node, 'to_dict') else node


def _type_name(node) -> str:
    return str(_plain(node).get('type', '')).split('.')[-1] \
        if isinstance(_plain(node), dict) else ''


def loader_datasets(cfg, phase) -> Iterator[Tuple[str, Optional[str], dict]]:
    """(config key path, dataset name or None, dataset config) of every
    dataset that the loader ``phase`` builds; the datasets of a
    ``MultiDatasetWrapper`` one by one (``config=`` entries resolved), each
    with its name in ``names`` (``'#i'`` without one); None for a loader's
    only dataset."""
    loader = _plain(cfg.get(phase))
    if not isinstance(loader, dict) or not isinstance(
            _plain(loader.get('dataset')), dict):
        return
    dataset = _plain(loader['dataset'])
    where = f'{phase}.dataset'
    if _type_name(dataset) != 'MultiDatasetWrapper':
        yield where, None, dataset
        return
    from mlfd_mm.datasets.multi_dataset import resolve_dataset_config
    names = list(dataset.get('names') or [])
    for i, entry in enumerate(dataset.get('datasets') or []):
        entry = _plain(entry)
        if not isinstance(entry, dict):
            continue
        # a wrapper without names: its datasets are still told apart
        name = names[i] if i < len(names) else f'#{i}'
        label = f'{where}.datasets[{i}]' + (
            f" ('{name}')" if i < len(names) else '')
        yield label, name, resolve_dataset_config(dict(entry))


def dataset_classes(dataset: dict) -> Optional[List[str]]:
    """The class names of a dataset config's ``metainfo``, or None."""
    classes = (_plain(dataset.get('metainfo')) or {}).get('classes')
    if isinstance(classes, str):
        path = osp.expanduser(classes)
        if not osp.isfile(path):
            return None
        with open(path) as f:
            return [line.strip() for line in f if line.strip()]
    return list(classes) if classes else None


def model_num_classes(cfg) -> Optional[int]:
    """The class count a single-dataset config's model or preprocessor
    states (``data_preprocessor.num_classes``, ``model.head.num_classes``,
    ``model.cls_head.num_classes``), or None."""
    pre = _plain(cfg.get('data_preprocessor')) or {}
    model = _plain(cfg.get('model')) or {}
    candidates = [pre.get('num_classes'),
                  (_plain(model.get('data_preprocessor')) or {}).get(
                      'num_classes')]
    for part in ('head', 'cls_head'):
        head = _plain(model.get(part))
        if isinstance(head, dict):
            candidates.append(head.get('num_classes'))
    found = [int(n) for n in candidates if isinstance(n, int)]
    return found[0] if found else None


def num_classes_of(cfg, dataset, name) -> Tuple[Optional[int], str]:
    """(class count, where it comes from) of one of the loader's datasets:
    its ``metainfo.classes``, else (for the loader's only dataset) what the
    model says."""
    classes = dataset_classes(dataset)
    if classes is not None:
        return len(classes), 'metainfo.classes'
    if name is None:
        return model_num_classes(cfg), 'the model\'s num_classes'
    return None, ''


def dataset_label(where, name, dataset) -> str:
    """How a message names a dataset: its config key, name and root."""
    root = dataset.get('data_root')
    return where + (f' (data_root {root!r})' if root else '')


# ---------------------------------------------------------------------------
# evaluators' topk
# ---------------------------------------------------------------------------
def _topk_of(evaluator) -> Optional[Tuple[int, ...]]:
    """The ``topk`` of an evaluator that fails on a k above the class
    count (mmpretrain's Accuracy; MultiDatasetMetric leaves such k out)."""
    if _type_name(evaluator) != 'Accuracy':
        return None
    topk = _plain(evaluator).get('topk', (1, ))
    return (int(topk), ) if isinstance(topk, int) else tuple(
        int(k) for k in topk)


def check_topk(cfg, phases):
    """Raise ValueError when an evaluator's ``topk`` asks for more classes
    than a dataset it evaluates has (mmpretrain's "Top-5 accuracy is
    unavailable" at the first validation otherwise), naming the dataset,
    its class count and the topk.

    Args:
        cfg (mmengine.Config): the full config.
        phases (Sequence[str]): the dataloader keys of the run.
    """
    for phase in phases:
        if phase == 'train_dataloader':
            continue
        key = phase.replace('_dataloader', '_evaluator')
        evaluators = _plain(cfg.get(key))
        if isinstance(evaluators, dict):
            evaluators = [evaluators]
        for i, evaluator in enumerate(evaluators or []):
            topk = _topk_of(evaluator)
            if not topk:
                continue
            for where, name, dataset in loader_datasets(cfg, phase):
                count, source = num_classes_of(cfg, dataset, name)
                if count is not None and max(topk) > count:
                    ev_key = key if len(evaluators) == 1 else f'{key}[{i}]'
                    raise ValueError(
                        f'{ev_key}.topk = {topk} but '
                        f'{dataset_label(where, name, dataset)} has only '
                        f'{count} classes ({source}): top-{max(topk)} '
                        'accuracy is undefined. Set e.g. '
                        f'--cfg-options {ev_key}.topk="(1, {count})" (or a '
                        'topk without the k above the class count)')


# ---------------------------------------------------------------------------
# one input size per multi-dataset loader
# ---------------------------------------------------------------------------
def _as_size(value) -> Optional[Tuple[int, int]]:
    if isinstance(value, int):
        return (value, value)
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(
            isinstance(v, int) and v > 0 for v in value):
        return (int(value[0]), int(value[1]))
    return None


def _pipeline_size(pipeline) -> Tuple[Optional[Tuple[int, int]], str]:
    """((w, h), which step) that a pipeline's last size-setting step
    gives; (None, 'free') when its size follows the input; (None, '')
    when no step sets one."""
    for step in reversed(pipeline or []):
        kind = _type_name(step)
        if kind in _FREE_STEPS:
            return None, 'free'
        if kind in _SIZE_STEPS:
            step = _plain(step)
            if kind == 'Resize' and step.get('keep_ratio'):
                return None, 'free'
            size = _as_size(step.get(_SIZE_STEPS[kind]))
            return (size, f'{kind} {_SIZE_STEPS[kind]}') if size else \
                (None, 'free')
    return None, ''


def _prefix(dataset) -> str:
    prefix = dataset.get('data_prefix') or ''
    if isinstance(prefix, dict):
        prefix = prefix.get('img_path') or prefix.get('img') or ''
    root = dataset.get('data_root') or ''
    return prefix if osp.isabs(prefix) else osp.join(root, prefix)


def _first_image(dataset) -> Optional[str]:
    """One image file of an image dataset config: the first of its
    annotation file, else the first found under its folder."""
    from .annotations import annotation_path
    ann = annotation_path(dataset)
    if ann and osp.isfile(ann):
        with open(ann) as f:
            for line in f:
                parts = line.strip().rsplit(' ', 1)
                if len(parts) == 2:
                    return osp.join(_prefix(dataset), parts[0])
        return None
    folder = _prefix(dataset)
    for top, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            if name.lower().endswith(_IMAGE_EXTS):
                return osp.join(top, name)
    return None


def _input_size(dataset) -> Tuple[Optional[Tuple[int, int]], str]:
    """((w, h), how it was found) of what a dataset config's pipeline
    gives, or (None, '') when that cannot be told before loading."""
    pipeline = dataset.get('pipeline') or []
    size, how = _pipeline_size(pipeline)
    if size or how == 'free':
        return size, how
    if not pipeline or _type_name(pipeline[0]) != 'LoadImageFromFile':
        return None, ''
    image = _first_image(dataset)
    if not image or not osp.isfile(image):
        return None, ''
    import cv2
    array = cv2.imread(image, cv2.IMREAD_UNCHANGED)
    if array is None:
        return None, ''
    return (array.shape[1], array.shape[0]), f'image {image}'


def check_input_sizes(cfg, phases):
    """Raise ValueError when the datasets of one multi-dataset loader give
    inputs of different sizes, naming the datasets and their sizes.

    The data preprocessor would zero-pad the smaller inputs of a mixed
    batch to the largest one: a model would silently see padded images.
    A dataset's size is that of its pipeline's last fixed-size step
    (Resize, RandomResizedCrop, CenterCrop, RandomCrop, ...), or, without
    one, that of its first image. Datasets whose size follows their input
    (ResizeEdge, Resize with keep_ratio) are not compared. To mix datasets
    of different sizes, give each a Resize to one size in its pipeline.

    Args:
        cfg (mmengine.Config): the full config.
        phases (Sequence[str]): the dataloader keys of the run.
    """
    for phase in phases:
        found = []
        for where, name, dataset in loader_datasets(cfg, phase):
            if name is None:  # a single dataset: nothing to mix
                break
            size, how = _input_size(dataset)
            if size is not None:
                found.append((where, size, how))
        if len({size for _, size, _ in found}) > 1:
            listed = '; '.join(f'{where}: {size[0]}x{size[1]} ({how})'
                               for where, size, how in found)
            raise ValueError(
                f'{phase}: its datasets give inputs of different sizes '
                f'(w x h) - {listed}. The data preprocessor would zero-pad '
                'the smaller ones to the largest in every mixed batch. '
                "Resize them to one size: add dict(type='Resize', "
                'scale=(S, S)) before PackInputs in each dataset\'s '
                'pipeline (a MultiDatasetWrapper entry takes '
                'pipeline=[...] next to config=...)')


# ---------------------------------------------------------------------------
# a student's dataset against its data
# ---------------------------------------------------------------------------
def _load(path):
    return Config.fromfile(path) if isinstance(path, str) else None


def _teacher_entries(joint_cfg) -> List[dict]:
    model = _plain(joint_cfg.get('model')) or {}
    return [_plain(t) for t in model.get('teachers') or []
            if isinstance(_plain(t), dict)]


def _teacher_classes(entry) -> Optional[List[str]]:
    cfg = _load(entry.get('config'))
    if cfg is None:
        return None
    for _, _, dataset in loader_datasets(cfg, 'train_dataloader'):
        return dataset_classes(dataset)
    return None


def check_student_dataset(cfg):
    """Raise ValueError when a distiller's ``dataset`` names a joint-teacher
    dataset whose classes differ from those of the student's training data
    (an mnist student given ``dataset='animals'`` trains on mnist against
    the animals head), naming both datasets and their classes.

    The student's classes are those of its ``train_dataloader`` dataset
    (the one named ``dataset`` in a MultiDatasetWrapper); the joint head's
    those of the training data of the teacher of that name in the joint
    teacher's config. Where either is not stated, nothing is checked.

    Args:
        cfg (mmengine.Config): the full config.
    """
    model = _plain(cfg.get('model')) or {}
    teacher = _plain(model.get('teacher'))
    dataset = model.get('dataset')
    if dataset is None or not isinstance(teacher, dict) or not isinstance(
            teacher.get('config'), str) or not osp.isfile(teacher['config']):
        return
    entries = _teacher_entries(Config.fromfile(teacher['config']))
    names = [e.get('name') for e in entries]
    if isinstance(dataset, int) and not isinstance(dataset, bool):
        if not 0 <= dataset < len(names):
            return  # MLFDDistiller names this mistake itself
        dataset = names[dataset]
    if dataset not in names:
        return
    student = None
    for where, name, data in loader_datasets(cfg, 'train_dataloader'):
        if name is None or name == dataset:
            student = (where, dataset_classes(data))
            break
    if student is None or student[1] is None:
        return
    head = _teacher_classes(entries[names.index(dataset)])
    if head is None or list(head) == list(student[1]):
        return
    fitting = [e.get('name') for e in entries
               if _teacher_classes(e) == list(student[1])]
    hint = (f" The student's classes are those of {fitting}: did you mean "
            f"dataset='{fitting[0]}'?" if fitting else
            ' None of the joint teacher\'s datasets has these classes; '
            'dataset=None distils features only (a dataset the joint '
            'teacher was not trained on).')

    def short(classes):
        more = f', ... ({len(classes)} in all)' if len(classes) > 6 else ''
        return '[' + ', '.join(map(str, classes[:6])) + more + ']'

    raise ValueError(
        f"model.dataset = '{dataset}' names the joint teacher's head of "
        f"'{dataset}' (classes {short(head)}, teacher config "
        f"{entries[names.index(dataset)].get('config')}), but the student's "
        f'data {student[0]} has classes {short(student[1])}.' + hint)
