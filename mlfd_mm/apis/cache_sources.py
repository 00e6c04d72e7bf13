"""What a feature cache is built from: a JointTeacher config's teachers, its
cache options and, per split, each dataset with its deterministic (test)
pipeline. Used by :mod:`mlfd_mm.apis.feature_cache`."""
import copy
import os.path as osp

from mmengine.logging import print_log
from mmengine.registry import DATASETS, MODELS

from ..cache import normalize_pool
from ..cache.manifest import load_manifest
from ..cache.writer import DEFAULT_SHARD_SIZE
from ..config import SPLITS, as_dict
from ..datasets.multi_dataset import resolve_dataset_config


class CacheConfigError(ValueError):
    """A config (or option) that no feature cache can be built from; the
    message says what to change."""


def cache_options(cfg, config_name, root=None, dtype=None, pool=None,
                  shard_size=None, dry_run=False):
    """The cache's options from the config and the caller (the caller wins).

    Args:
        cfg (Config): a JointTeacher config.
        config_name (str): the config's file, for messages.
        root (str, optional): the cache directory; default
            ``model.feature_cache.root``.
        dtype (str, optional): 'float16' or 'float32'; default
            ``feature_cache.dtype``, else 'float16'.
        pool (dict | str, optional): the pooling spec; default
            ``feature_cache.pool``.
        shard_size (int, optional): samples per shard; default
            ``feature_cache.shard_size``, else the existing cache's, else
            ``DEFAULT_SHARD_SIZE``.
        dry_run (bool): no warning about a pool the model would refuse.

    Returns:
        dict: ``root``, ``dtype``, ``pool`` (normalised), ``shard_size`` and
        ``pipeline`` (``feature_cache.pipeline`` or None).
    """
    model = cfg.get('model') or {}
    if model.get('type') != 'JointTeacher':
        raise CacheConfigError(
            f'{config_name}: model.type is {model.get("type")!r}; '
            'tools/cache_features.py caches the teachers of a JointTeacher '
            'config or the joint teacher of an MLFDDistiller config')
    config_opts = as_dict(model.get('feature_cache') or {})
    root = root or config_opts.get('root')
    if not root:
        raise CacheConfigError(
            f'{config_name}: no cache directory; set '
            'model.feature_cache=dict(root=...) in the config or pass --root')
    if pool is None:
        pool = config_opts.get('pool')
    elif normalize_pool(pool) != normalize_pool(config_opts.get('pool')) \
            and not dry_run:
        print_log(
            f'--pool {pool} differs from model.feature_cache.pool '
            f'{config_opts.get("pool")}: a model trained with this config '
            'will refuse this cache', logger='current', level=30)
    shard_size = shard_size or config_opts.get('shard_size')
    if shard_size is None:
        existing = load_manifest(root, outdated_ok=True) \
            if osp.isdir(root) else None
        shard_size = existing['shard_size'] if existing else \
            DEFAULT_SHARD_SIZE
    return dict(root=root,
                dtype=dtype or config_opts.get('dtype', 'float16'),
                pool=normalize_pool(pool), shard_size=int(shard_size),
                pipeline=config_opts.get('pipeline'))


def build_joint_teacher(cfg, dry_run):
    """The JointTeacher of the config without its feature cache (the
    teachers must run). In a dry run, missing checkpoints are dropped:
    feature shapes do not depend on the weights."""
    model_cfg = as_dict(cfg.model)
    model_cfg.pop('feature_cache', None)
    for i, teacher in enumerate(model_cfg.get('teachers') or []):
        path = teacher.get('checkpoint')
        if dry_run and path and '://' not in path and not osp.isfile(path):
            print(f'dry run: teacher {teacher.get("name", i)!r}: checkpoint '
                  f'{path} not found, shapes from random weights')
            teacher['checkpoint'] = None
    return MODELS.build(model_cfg)


def _loader_dataset(cfg, split):
    """The MultiDatasetWrapper config of a split's dataloader."""
    loader = cfg.get(f'{split}_dataloader')
    if not loader or 'dataset' not in loader:
        raise CacheConfigError(f'the config has no {split}_dataloader.dataset')
    dataset = as_dict(loader['dataset'])
    if dataset.get('type') == 'CachedFeatureDataset':  # a cached config
        dataset = dataset['dataset']
    if dataset.get('type') != 'MultiDatasetWrapper':
        raise CacheConfigError(
            f'{split}_dataloader.dataset is {dataset.get("type")!r}; the '
            'cache needs the MultiDatasetWrapper of a JointTeacher config')
    return dataset


def deterministic_pipelines(cfg):
    """Each dataset's test pipeline (else its val pipeline), by name."""
    found = {}
    for split in ('val', 'test'):
        if not cfg.get(f'{split}_dataloader'):
            continue
        wrapper = _loader_dataset(cfg, split)
        for name, entry in zip(wrapper['names'], wrapper['datasets']):
            found[name] = resolve_dataset_config(entry).get('pipeline')
    return found


def split_datasets(cfg, split, pipeline=None):
    """The datasets of a split, each with the pipeline it is cached with.

    Args:
        cfg (Config): a JointTeacher config.
        split (str): 'train', 'val' or 'test'.
        pipeline (list, optional): one pipeline for every dataset; default
            each dataset's own deterministic pipeline.

    Returns:
        list[tuple]: ``(name, dataset config, pipeline)`` per dataset.
    """
    wrapper = _loader_dataset(cfg, split)
    pipelines = deterministic_pipelines(cfg) if pipeline is None else {}
    out = []
    for name, entry in zip(wrapper['names'], wrapper['datasets']):
        dataset = resolve_dataset_config(entry)
        chosen = pipeline if pipeline is not None else pipelines.get(name)
        if not chosen:
            raise CacheConfigError(
                f'dataset {name!r}: no test/val pipeline to cache with; set '
                'model.feature_cache.pipeline')
        dataset['pipeline'] = chosen
        out.append((name, dataset, chosen))
    return out


def data_present(dataset_cfg):
    """Whether a dataset's data root (if it names one) exists."""
    root = dataset_cfg.get('data_root')
    return not root or osp.isdir(root)


def build_dataset(dataset_cfg):
    """Build a dataset config and load its annotations."""
    dataset = DATASETS.build(copy.deepcopy(dataset_cfg))
    if hasattr(dataset, 'full_init'):
        dataset.full_init()
    return dataset


# ----------------------------------------------------------------------
# the joint-output cache of an MLFD student config (stage 3)
# ----------------------------------------------------------------------
def is_student_config(cfg):
    """Whether a config trains an MLFD student (its cache holds the joint
    teacher's outputs) rather than a JointTeacher."""
    return (cfg.get('model') or {}).get('type') == 'MLFDDistiller'


def joint_output_options(cfg, config_name, root=None, dtype=None,
                         shard_size=None):
    """The joint-output cache's options from an MLFD student config's
    ``model.joint_output_cache`` and the caller (the caller wins): ``root``,
    ``dtype`` (default 'float16'), ``shard_size``."""
    config_opts = as_dict(cfg.model.get('joint_output_cache') or {})
    root = root or config_opts.get('root')
    if not root:
        raise CacheConfigError(
            f'{config_name}: no cache directory; set '
            'model.joint_output_cache=dict(root=...) in the config or pass '
            '--root')
    shard_size = shard_size or config_opts.get('shard_size')
    if shard_size is None:
        existing = load_manifest(root, outdated_ok=True) \
            if osp.isdir(root) else None
        shard_size = existing['shard_size'] if existing else \
            DEFAULT_SHARD_SIZE
    return dict(root=root, dtype=dtype or config_opts.get('dtype', 'float16'),
                pool=None, shard_size=int(shard_size), pipeline=None)


def build_online_student(cfg):
    """The MLFDDistiller of a student config with its joint teacher (the
    joint-output cache option removed: the teacher must run)."""
    model_cfg = as_dict(cfg.model)
    model_cfg.pop('joint_output_cache', None)
    if not (model_cfg.get('teacher') or {}).get('checkpoint'):
        raise CacheConfigError(
            'model.teacher.checkpoint is not set: the joint-output cache is '
            'built from a trained joint teacher')
    return MODELS.build(model_cfg)


def _unwrap_cached(dataset):
    if dataset.get('type') == 'CachedFeatureDataset':
        return as_dict(dataset['dataset'])
    return dataset


def student_split_datasets(cfg, split, student_dataset):
    """A student config's datasets of a split, each with its deterministic
    pipeline (the config's test pipeline, else its val pipeline), as
    ``(name, dataset config, pipeline)``: the student's own dataset under
    ``student_dataset``, or each dataset of a MultiDatasetWrapper under its
    name."""
    pipeline = None
    for other in ('test', 'val'):
        loader = cfg.get(f'{other}_dataloader')
        if loader and 'dataset' in loader:
            found = _unwrap_cached(as_dict(loader['dataset']))
            if found.get('type') != 'MultiDatasetWrapper' and \
                    found.get('pipeline'):
                pipeline = found['pipeline']
                break
    if pipeline is None:
        raise CacheConfigError(
            'the student config has no test/val pipeline to cache the joint '
            'outputs with')
    loader = cfg.get(f'{split}_dataloader')
    if not loader or 'dataset' not in loader:
        raise CacheConfigError(f'the config has no {split}_dataloader.dataset')
    dataset = _unwrap_cached(as_dict(loader['dataset']))
    if dataset.get('type') == 'MultiDatasetWrapper':
        entries = [(name, resolve_dataset_config(entry)) for name, entry in
                   zip(dataset['names'], dataset['datasets'])]
    else:
        if not student_dataset:
            raise CacheConfigError(
                'model.dataset is None (a dataset the joint teacher was not '
                'trained on): name the cache\'s dataset with a '
                'MultiDatasetWrapper in the loaders')
        entries = [(student_dataset, dataset)]
    out = []
    for name, entry in entries:
        entry = copy.deepcopy(entry)
        entry['pipeline'] = pipeline
        out.append((name, entry, pipeline))
    return out
