"""Config references: a model config given as a dict or as a config file.

Teachers, students, joint teachers and the tools all accept "a config": a
model config dict, a whole config (with a ``model``), or the path of a config
file. :func:`resolve_model_config` turns any of them into one plain model
config dict and the scope (toolbox) to build it under.
"""
import copy
import os.path as osp
from typing import Optional, Tuple, Union

from mmengine.config import Config, ConfigDict
from mmengine.registry import DefaultScope

ConfigRef = Union[str, dict, Config]

# The scope of a model config that names none and is built where no default
# scope is set.
FALLBACK_SCOPE = 'mmpretrain'


def as_dict(cfg) -> dict:
    """A plain, deep-copied dict of a ``ConfigDict``, ``Config`` or dict.

    Args:
        cfg (dict | ConfigDict | Config): The config.

    Returns:
        dict: A copy that shares nothing with ``cfg``; nested ConfigDicts
        become plain dicts.
    """
    if isinstance(cfg, Config):
        return cfg.to_dict()
    if isinstance(cfg, ConfigDict):
        return cfg.to_dict()
    return copy.deepcopy(dict(cfg))


def load_config_file(path: str, what: str) -> Config:
    """Read a config file, or fail naming what it was for.

    Args:
        path (str): The config file.
        what (str): What the file is, for messages (``'student'``,
            ``"teacher 'mnist'"``, ...).

    Returns:
        Config: The parsed config.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what}: config file not found: {path}')
    return Config.fromfile(path)


def whole_config(ref: ConfigRef, what: str) -> Optional[Config]:
    """The whole config a reference comes from, if it is one.

    Args:
        ref (str | dict | Config): A config file path, a whole config (a
            ``Config``, or a dict with a ``model`` and no ``type``), or a
            model config dict.
        what (str): What the config is, for messages.

    Returns:
        Config | None: The whole config (with its pipelines, dataloaders,
        ``default_scope``), or None when ``ref`` is a model config dict.
    """
    if isinstance(ref, str):
        return load_config_file(ref, what)
    if isinstance(ref, Config):
        return ref
    if not isinstance(ref, dict):
        raise TypeError(f'{what}: a config must be a file path or a dict, '
                        f'got {type(ref).__name__}')
    if 'model' in ref and 'type' not in ref:
        return Config(as_dict(ref))
    return None


def model_scope(model: dict, default_scope: Optional[str] = None) -> str:
    """The scope to build a model config under.

    Args:
        model (dict): The model config.
        default_scope (str, optional): The scope when the model names none.

    Returns:
        str: The model's ``_scope_``, else ``default_scope``, else mmengine's
        current default scope, else ``'mmpretrain'``.
    """
    if model.get('_scope_'):
        return model['_scope_']
    if default_scope:
        return default_scope
    current = DefaultScope.get_current_instance()
    return current.scope_name if current is not None else FALLBACK_SCOPE


def resolve_model_config(ref: ConfigRef,
                         what: str,
                         default_scope: Optional[str] = None
                         ) -> Tuple[dict, str]:
    """A model config and its scope, from a dict or a config file.

    From a file (or a whole config), the model is the config's ``model``;
    the config's top-level ``data_preprocessor`` becomes the model's when
    the model has none (as mmengine's Runner does), and the config's
    ``default_scope`` becomes the model's ``_scope_`` when it has none.

    Args:
        ref (str | dict | Config): A model config dict, a whole config (with
            a ``model``), or the path of a config file.
        what (str): What the config is, for messages (``'student'``,
            ``'teacher.config'``, ``"teacher 'mnist'"``).
        default_scope (str, optional): The scope when neither the model nor
            its config names one. Defaults to mmengine's current default
            scope, else ``'mmpretrain'``.

    Returns:
        tuple[dict, str]: A plain copy of the model config, and its scope.
    """
    whole = whole_config(ref, what)
    if whole is None:
        model = as_dict(ref)
        return model, model_scope(model, default_scope)
    if not whole.get('model'):
        source = ref if isinstance(ref, str) else 'the config'
        raise KeyError(f'{what}: {source} has no `model`')
    model = as_dict(whole.model)
    if not model.get('data_preprocessor') and whole.get('data_preprocessor'):
        model['data_preprocessor'] = as_dict(whole.data_preprocessor)
    if not model.get('_scope_') and whole.get('default_scope'):
        model['_scope_'] = whole.default_scope
    return model, model_scope(model, default_scope)


# ---------------------------------------------------------------------------
# Joint configs: teachers named once, checkpoints found by layout
# ---------------------------------------------------------------------------
# A teacher entry's ``checkpoint='auto'`` is the best checkpoint of the run
# that trained it. With ``pipeline_dir`` (one seed of a tools/run_pipeline.py
# run, ``<work_dir>/seed<k>``) that is the pipeline's layout; without, the
# work dir tools/train.py gives the config by default, relative to the
# current directory.
AUTO = 'auto'
SPLITS = ('train', 'val', 'test')
JOINT_OUTPUT_SPLITS = ('train',)  # see joint_output_splits


def auto_checkpoint(config: str,
                    stage: str,
                    pipeline_dir: Optional[str] = None) -> str:
    """Where ``checkpoint='auto'`` looks for a stage's best checkpoint.

    Args:
        config (str): The config file of the stage that trained the model
            (a teacher's config; for a student's joint teacher, the joint
            config).
        stage (str): The stage's key in a pipeline run: ``'teachers/<name>'``
            for a stage-1 teacher, ``'joint'`` for the joint teacher.
        pipeline_dir (str, optional): One seed of a pipeline run
            (``work_dirs/offline/seed0`` after ``make demo``).

    Returns:
        str: ``<pipeline_dir>/<stage>/best.pth`` when ``pipeline_dir`` is
        given, else ``work_dirs/<config file stem>/best.pth`` (where
        ``tools/train.py <config>`` links its best checkpoint).
    """
    if pipeline_dir:
        return osp.normpath(osp.join(pipeline_dir, stage, 'best.pth'))
    stem = osp.splitext(osp.basename(config))[0]
    return osp.join('work_dirs', stem, 'best.pth')


def _resolve_auto(entry: dict, config: str, stage: str,
                  pipeline_dir: Optional[str], what: str, missing: str):
    if entry.get('checkpoint') != AUTO:
        return
    if not isinstance(config, str):
        raise TypeError(
            f"{what}: checkpoint='auto' needs the config as a file path, "
            f'got a {type(config).__name__}')
    path = auto_checkpoint(config, stage, pipeline_dir)
    if not osp.isfile(path):
        if missing == 'none':
            entry['checkpoint'] = None
            return
        where = (f'pipeline_dir={osp.normpath(pipeline_dir)!r}'
                 if pipeline_dir else
                 'no pipeline_dir: the default work dir of tools/train.py '
                 'under the current directory')
        run = 'stage-1' if stage.startswith('teachers/') else 'joint-teacher'
        raise FileNotFoundError(
            f"{what}: checkpoint='auto' is the best checkpoint of its {run} "
            f'run, {path} ({where}), which does not exist. Train that '
            'stage first, set '
            '`pipeline_dir` to the seed directory of a pipeline run '
            "(--cfg-options pipeline_dir=work_dirs/<pipeline>/seed0), or "
            'give the checkpoint file.')
    entry['checkpoint'] = path


def resolve_auto_checkpoints(cfg: Config, missing: str = 'error') -> Config:
    """Replace every ``checkpoint='auto'`` of a config by a file path.

    ``model.teachers`` (a joint teacher's or a multi-teacher distiller's
    frozen teachers, each ``dict(name, config, checkpoint)``) look for
    their stage-1 runs, ``model.teacher`` (an MLFD student's joint teacher)
    for the joint run; see :func:`auto_checkpoint` for where, after the
    config's ``pipeline_dir`` (if any).

    Args:
        cfg (Config): A whole config; changed in place.
        missing (str): ``'error'`` raises ``FileNotFoundError`` naming the
            teacher and the path looked for when the file is not there;
            ``'none'`` sets such a checkpoint to None (e.g. when a joint
            checkpoint already holds the teachers' weights).

    Returns:
        Config: ``cfg``.
    """
    if missing not in ('error', 'none'):
        raise ValueError(f"missing must be 'error' or 'none', got {missing!r}")
    model = cfg.get('model')
    if not isinstance(model, dict):
        return cfg
    pipeline_dir = cfg.get('pipeline_dir')
    for i, teacher in enumerate(model.get('teachers') or []):
        if isinstance(teacher, dict):
            name = teacher.get('name', f'teacher{i}')
            _resolve_auto(teacher, teacher.get('config'), f'teachers/{name}',
                          pipeline_dir, f'model.teachers: teacher {name!r}',
                          missing)
    teacher = model.get('teacher')
    if isinstance(teacher, dict):
        _resolve_auto(teacher, teacher.get('config'), 'joint', pipeline_dir,
                      'model.teacher (the joint teacher)', missing)
    return cfg


def _multi_dataset_wrapper(dataset) -> Optional[dict]:
    """The MultiDatasetWrapper config in a (possibly wrapped) dataset."""
    while isinstance(dataset, dict):
        if dataset.get('type') == 'MultiDatasetWrapper':
            return dataset
        dataset = dataset.get('dataset')
    return None


def complete_joint_loaders(cfg: Config) -> Config:
    """Fill the datasets of a joint config's loaders from its teachers.

    A joint config names each teacher once in ``model.teachers``
    (``dict(name, config, checkpoint)``); every dataloader whose
    ``MultiDatasetWrapper`` (possibly inside another dataset wrapper, e.g.
    ``CachedFeatureDataset``) has no ``datasets`` gets one dataset per
    teacher, in order: ``names=[name, ...]`` and
    ``datasets=[dict(config=config, split=<train|val|test>), ...]``, the
    dataset of that split in the teacher's own config. A config whose
    datasets are not its teachers' (one dataset for several teachers, or no
    teachers at all) names them in ``joint_datasets = dict(name=config,
    ...)`` instead, which this removes once used. Loaders that already list
    datasets are kept.

    Args:
        cfg (Config): A whole config; changed in place.

    Returns:
        Config: ``cfg``.
    """
    sources = cfg.pop('joint_datasets', None)
    if sources is None:
        model = cfg.get('model')
        teachers = model.get('teachers') if isinstance(model, dict) else None
        if not teachers or not all(
                isinstance(t, dict) and 'name' in t
                and isinstance(t.get('config'), str) for t in teachers):
            return cfg
        sources = {t['name']: t['config'] for t in teachers}
    for split in SPLITS:
        key = f'{split}_dataloader'
        loader = cfg.get(key)
        if not isinstance(loader, dict):
            continue
        # val and test loaders may be one object: give each its own copy
        loader = copy.deepcopy(loader)
        wrapper = _multi_dataset_wrapper(loader.get('dataset'))
        if wrapper is None or wrapper.get('datasets'):
            continue
        wrapper['names'] = list(sources)
        # normpath: '<configs>/mlfd/../teachers/x.py' reads better in
        # messages as '<configs>/teachers/x.py'
        wrapper['datasets'] = [
            dict(config=osp.normpath(config), split=split)
            for config in sources.values()
        ]
        cfg[key] = loader
    return cfg


def joint_output_splits(options) -> list:
    """The splits a student's joint-output cache holds: its
    ``model.joint_output_cache`` option's ``splits``, checked, in the order
    of :data:`SPLITS`. Defaults to :data:`JOINT_OUTPUT_SPLITS`: the student
    trains from the cache, while validation and testing run the student
    alone. Name 'val' (and 'test') too for a hook that compares the student
    with its joint teacher there (``DistillDiagnosticsHook``,
    ``JointTeacherAccuracyHook``).

    Raises:
        ValueError: an unknown or repeated split, or no 'train'.
    """
    splits = (options or {}).get('splits', JOINT_OUTPUT_SPLITS)
    splits = [splits] if isinstance(splits, str) else list(splits)
    if any(s not in SPLITS for s in splits) or 'train' not in splits or \
            len(set(splits)) != len(splits):
        raise ValueError(
            "model.joint_output_cache.splits must name 'train' (the student "
            "trains from the cache) and may add 'val' and 'test', each "
            f'once; got {splits!r}')
    return [s for s in SPLITS if s in splits]


def wrap_cached_loaders(cfg: Config) -> Config:
    """Read every loader through the model's cache.

    A model that trains from a cache (a JointTeacher with
    ``model.feature_cache=dict(root=...)``, an MLFDDistiller with
    ``model.joint_output_cache=dict(root=...)``) needs each loader's dataset
    wrapped in a ``CachedFeatureDataset`` of the same root, so that its
    samples carry their cached features. A loader whose dataset is not
    wrapped yet gets that wrapper (a student's under its ``model.dataset``
    name), so a cached config can be the online one plus the cache option;
    loaders already wrapped are kept. A student's loaders are wrapped only
    for the splits its cache holds (:func:`joint_output_splits`; by default
    the training split).

    Args:
        cfg (Config): A whole config; changed in place.

    Returns:
        Config: ``cfg``.

    Raises:
        ValueError: A student whose ``model.dataset`` is not a name, with a
            loader that is a single dataset (its name in the cache is
            unknown); a student's loader wrapped by hand for a split its
            cache does not hold.
    """
    model = cfg.get('model')
    if not isinstance(model, dict):
        return cfg
    key = next((k for k in ('feature_cache', 'joint_output_cache')
                if isinstance(model.get(k), dict)
                and model[k].get('root')), None)
    if key is None:
        return cfg
    cached = SPLITS if key == 'feature_cache' else \
        joint_output_splits(model[key])
    for split in SPLITS:
        loader = cfg.get(f'{split}_dataloader')
        if not isinstance(loader, dict) or \
                not isinstance(loader.get('dataset'), dict):
            continue
        dataset = loader['dataset']
        if dataset.get('type') == 'CachedFeatureDataset':
            reads = dataset.get('split', split)
            if reads not in cached:
                raise ValueError(
                    f'{split}_dataloader reads split {reads!r} of the '
                    'joint-output cache (CachedFeatureDataset), but '
                    f'model.joint_output_cache.splits is {list(cached)}: '
                    f'add {reads!r} to it, or give the loader the dataset '
                    'itself')
            continue
        if split not in cached:
            continue  # the student alone: no teacher outputs needed
        wrapper = dict(type='CachedFeatureDataset', root=model[key]['root'],
                       split=split, dataset=copy.deepcopy(dataset))
        if dataset.get('type') != 'MultiDatasetWrapper':
            name = model.get('dataset')
            if not isinstance(name, str):
                raise ValueError(
                    f'{split}_dataloader: model.{key} reads the cache by '
                    f'dataset name, but model.dataset is {name!r}: wrap the '
                    "loader's dataset yourself in dict(type="
                    "'CachedFeatureDataset', root=..., split=..., "
                    'dataset_name=<its name in the cache>, dataset=...)')
            wrapper['dataset_name'] = name
        # val and test loaders may be one object: give each its own copy
        loader = copy.deepcopy(loader)
        loader['dataset'] = wrapper
        cfg[f'{split}_dataloader'] = loader
    return cfg


def fit_schedulers_to_epochs(cfg: Config) -> Config:
    """Leave out the epoch-based LR schedulers that would begin at or after
    the last epoch.

    The project's schedules end their last phase (cosine decay) where
    mmengine ends a scheduler without ``end``: at ``train_cfg.max_epochs``.
    A config (or ``--cfg-options train_cfg.max_epochs=N``) that changes the
    budget therefore decays to the end of the new budget. Only a run shorter
    than the warm-up would start a phase at or past its last epoch, which
    mmengine refuses (``end`` not after ``begin``); such a phase would never
    act, so it is dropped and the run stays in its warm-up.

    Args:
        cfg (Config): A whole config; changed in place.

    Returns:
        Config: ``cfg``.
    """
    train_cfg = cfg.get('train_cfg') or {}
    max_epochs = train_cfg.get('max_epochs')
    schedulers = cfg.get('param_scheduler')
    if max_epochs is None or not train_cfg.get('by_epoch', True) or \
            not isinstance(schedulers, (list, tuple)):
        return cfg
    cfg.param_scheduler = [
        s for s in schedulers
        if not (s.get('by_epoch', True) and s.get('begin', 0) >= max_epochs)]
    return cfg


def complete_config(cfg: Config, missing: str = 'error') -> Config:
    """Complete a config as loaded from a file: a joint config's loaders
    follow from its teachers (:func:`complete_joint_loaders`), a cached
    model's loaders read its cache (:func:`wrap_cached_loaders`), schedulers
    that would begin after the last epoch are left out
    (:func:`fit_schedulers_to_epochs`) and every ``checkpoint='auto'``
    becomes a file (:func:`resolve_auto_checkpoints`).

    Idempotent; a config without teachers is returned unchanged.

    Args:
        cfg (Config): A whole config, after ``--cfg-options`` are merged;
            changed in place.
        missing (str): What to do with an ``'auto'`` checkpoint that is not
            there; see :func:`resolve_auto_checkpoints`.

    Returns:
        Config: ``cfg``.
    """
    complete_joint_loaders(cfg)
    wrap_cached_loaders(cfg)
    fit_schedulers_to_epochs(cfg)
    return resolve_auto_checkpoints(cfg, missing)
