"""What a pipeline writes into a stage's config before it runs: the
checkpoints of the finished stages it uses (stage-1 teachers for the joint
teacher; the joint teacher or the teachers for a student; the student's own
stage-1 weights with ``student_init='stage1'``, or its initial weights with
``'paired'``) and the folder of the cache
a cached stage trains from."""

CACHE_DIR = 'cache'


def _cache_entries(cfg):
    """The config dicts naming a cache root: ``model.feature_cache`` or
    ``model.joint_output_cache``, and every loader's CachedFeatureDataset."""
    model = cfg.get('model') or {}
    entries = [model[key] for key in ('feature_cache', 'joint_output_cache')
               if isinstance(model.get(key), dict)]
    if not entries:
        return []
    for split in ('train', 'val', 'test'):
        dataset = (cfg.get(f'{split}_dataloader') or {}).get('dataset')
        while isinstance(dataset, dict):
            if dataset.get('type') == 'CachedFeatureDataset':
                entries.append(dataset)
            dataset = dataset.get('dataset')
    return entries


def cache_root(cfg):
    """The cache a stage config trains from, or None."""
    model = cfg.get('model') or {}
    for key in ('feature_cache', 'joint_output_cache'):
        if isinstance(model.get(key), dict):
            return model[key].get('root')
    return None


def set_cache_root(cfg, root):
    """Point a config's cache (the model's and its loaders') at ``root``;
    a config without one is left as it is."""
    for entry in _cache_entries(cfg):
        entry['root'] = root


def set_teacher_checkpoints(cfg, done):
    """Joint teacher: each frozen teacher gets its stage-1 checkpoint."""
    for teacher in cfg.model.teachers:
        key = f'teachers/{teacher["name"]}'
        if key not in done:
            raise KeyError(
                f'{cfg.filename}: model.teachers names teacher '
                f'{teacher["name"]!r} but the pipeline has no stage-1 '
                'teacher of that name (have: '
                f'{sorted(k for k in done if k.startswith("teachers/"))})')
        teacher['checkpoint'] = done[key]['checkpoint']
        teacher['config'] = done[key]['config']


def set_joint_checkpoint(cfg, done):
    """Student: the distiller's joint teacher is the stage-2 run's config
    (its teachers' checkpoints already resolved) and best checkpoint."""
    if 'joint' not in done:
        raise KeyError(
            'a student config with `model.teacher` (MLFD) needs the joint '
            'teacher, but the pipeline config has no `joint_teacher`')
    cfg.model.teacher.checkpoint = done['joint']['checkpoint']
    cfg.model.teacher.config = done['joint']['config']


def set_student_teachers(cfg, done):
    """Student: a distiller with several frozen teachers (``model.teachers``,
    e.g. AMTML-KD) gets their stage-1 runs by name; one with a joint teacher
    (``model.teacher``, MLFD) gets the stage-2 run; a plain classifier
    trains alone."""
    if 'teachers' in cfg.model:
        set_teacher_checkpoints(cfg, done)
    elif 'teacher' in cfg.model:
        set_joint_checkpoint(cfg, done)
    set_student_init(cfg, done)


def set_student_init(cfg, done):
    """``model.student_init='stage1'``: the student starts from the stage-1
    run of its own dataset (``model.dataset``) in this pipeline;
    ``'paired'``: from the random initial weights that run started from
    (its config and seed; issue #14, not the paper's recipe)."""
    init = cfg.model.get('student_init')
    if init not in ('stage1', 'paired'):
        return
    key = f'teachers/{cfg.model.get("dataset")}'
    if key not in done:
        raise KeyError(
            f"{cfg.filename}: model.student_init={init!r} starts the student "
            f'from the stage-1 run of its dataset, {key!r}, which this '
            'pipeline does not have (have: '
            f'{sorted(k for k in done if k.startswith("teachers/"))})')
    if init == 'stage1':
        cfg.model.student_init = done[key]['checkpoint']
    else:
        # The run's own config.py holds the seed it ran with.
        cfg.model.student_init = dict(paired_with=done[key]['config'])
