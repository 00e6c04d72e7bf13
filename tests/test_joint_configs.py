"""The paper's joint configs (stage 2) and the joint-on-all-datasets
baselines build and run.

Every config under ``configs/mlfd/`` and ``configs/baselines/`` whose model is
a ``JointTeacher`` or a ``SharedBackboneClassifier`` is found by glob (the
offline ones are trained for real elsewhere). Stage-1 checkpoints don't exist
here: each teacher's stage-1 model is built from its config with random
weights and saved once per session, and the joint configs point at those
files. The models run at 64 px (the paper's 224 px is slow on a shared CPU).

A joint config names each teacher once; its loaders are completed from the
teachers (:func:`mlfd_mm.config.complete_joint_loaders`), as the tools do
after loading it. The last tests check that completion, ``checkpoint='auto'``
and that the configs resolve from another working directory.
"""
import copy
import os.path as osp
from pathlib import Path

import mlfd_mm  # noqa: F401  (compat fixes before torchvision is imported)

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope
from mmpretrain.structures import DataSample

from mlfd_mm.config import (auto_checkpoint, complete_config,
                            complete_joint_loaders, resolve_auto_checkpoints)

REPO = Path(__file__).resolve().parents[1]
BUILT_TYPES = ('JointTeacher', 'SharedBackboneClassifier')
SPLITS = {'train_dataloader': 'train', 'val_dataloader': 'val',
          'test_dataloader': 'test'}
INPUT_SIZE = 64


def _load(path):
    """A config as the tools see it: loaded, its loaders completed."""
    return complete_joint_loaders(Config.fromfile(str(path)))


def _find_configs():
    found = []
    for folder in ('mlfd', 'baselines'):
        for path in sorted((REPO / 'configs' / folder).rglob('*.py')):
            if 'offline' in path.stem:
                continue
            model = Config.fromfile(str(path)).model
            # Joint teachers of video clips (joint_action) run on clips, not
            # images: test_video_action_configs.py tests them.
            if (model.get('data_preprocessor') or {}).get(
                    'type') == 'ActionDataPreprocessor':
                continue
            if model.get('type') in BUILT_TYPES:
                found.append(path)
    return found


CONFIGS = _find_configs()
JOINT_CONFIGS = [
    p for p in CONFIGS
    if Config.fromfile(str(p)).model.type == 'JointTeacher'
]

# The paper's sets: config stem -> classes of each dataset, in head order.
T1_CLASSES = [100, 200, 1000]
PAPER_CLASSES = {
    'joint_t1': T1_CLASSES,
    'joint_t1_L1': T1_CLASSES,
    'joint_t1_L2': T1_CLASSES,
    'joint_t1_L3': T1_CLASSES,
    'joint_t1_L4': T1_CLASSES,
    'joint_t3': [102, 102, 200, 37],
    'joint_t3_m2': [102, 102],
    'joint_t3_m3': [102, 102, 200],
    'joint_t4': T1_CLASSES,
    'joint_t1_same_dataset': [100],
    'joint_t5_resnet18': [100, 200],
    'joint_all_t1': T1_CLASSES,
}
# Joint levels of the paper's joint configs (the ablations L1..L4).
PAPER_LEVELS = {'joint_t1': 3, 'joint_t3': 3, 'joint_t4': 3,
                'joint_t1_L1': 1, 'joint_t1_L2': 2, 'joint_t1_L3': 3,
                'joint_t1_L4': 4}
# Stems of the stage-1 teacher configs of each paper joint config.
PAPER_TEACHERS = {
    'joint_t1': ['t1_resnet18_cifar100', 't1_efficientnet_b0_tiny_imagenet',
                 't1_seresnext26d_imagenet_sketch'],
    'joint_t3': ['t3_resnet18_caltech101', 't3_efficientnet_b0_flowers102',
                 't3_seresnext26d_cub', 't3_resnet18_oxford_pets'],
    'joint_t3_m2': ['t3_resnet18_caltech101',
                    't3_efficientnet_b0_flowers102'],
    'joint_t3_m3': ['t3_resnet18_caltech101', 't3_efficientnet_b0_flowers102',
                    't3_seresnext26d_cub'],
    'joint_t4': ['t4_resnet50_cifar100', 't4_efficientnet_b1_tiny_imagenet',
                 't4_seresnext50d_imagenet_sketch'],
    'joint_t1_same_dataset': ['t1_resnet18_cifar100',
                              't1_efficientnet_b0_cifar100',
                              't1_seresnext26d_cifar100'],
    'joint_t5_resnet18': ['t1_resnet18_cifar100',
                          't5_resnet18_tiny_imagenet'],
}


def _stem(path):
    return Path(path).stem


def _levels_wanted(levels):
    """Number of joint levels a config asks for (``'Lk'`` -> k)."""
    if isinstance(levels, str):
        return int(levels.strip().upper()[1:])
    return len(levels)


def _dataset_classes(entry):
    """Classes of a dataset entry ``dict(config=..., split=...)``, from its
    stage-1 config."""
    return Config.fromfile(entry['config']).model.head.num_classes


@pytest.fixture(autouse=True, scope='module')
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='session')
def random_checkpoints(tmp_path_factory):
    """``get(teacher config path) -> checkpoint path``: the stage-1 model of
    that config with random weights, built and saved once per session."""
    root = tmp_path_factory.mktemp('stage1')
    saved = {}

    def get(config):
        if config not in saved:
            torch.manual_seed(len(saved))
            cfg = Config.fromfile(config)
            with DefaultScope.overwrite_default_scope('mmpretrain'):
                model = MODELS.build(cfg.model)
            path = root / f'{_stem(config)}.pth'
            torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
            saved[config] = str(path)
            del model
        return saved[config]

    return get


def build_from_config(path, random_checkpoints):
    """The config's model, with random stage-1 checkpoints and 64 px probes."""
    cfg = _load(path)
    model_cfg = copy.deepcopy(cfg.model.to_dict())
    for teacher in model_cfg.get('teachers', []):
        teacher['checkpoint'] = random_checkpoints(teacher['config'])
        teacher['input_size'] = INPUT_SIZE
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    model.init_weights()
    return cfg, model.eval()


def make_samples(dataset_names, count):
    """``count`` data samples cycling through the datasets."""
    samples = []
    for i in range(count):
        idx = i % len(dataset_names)
        sample = DataSample().set_gt_label(0)
        sample.set_metainfo(
            dict(dataset_idx=idx, dataset_name=dataset_names[idx]))
        samples.append(sample)
    return samples


def test_configs_found():
    stems = {p.stem for p in CONFIGS}
    missing = sorted(set(PAPER_CLASSES) - stems)
    assert not missing, f'joint configs missing: {missing}'


@pytest.mark.parametrize('path', CONFIGS, ids=_stem)
def test_model_runs(path, random_checkpoints):
    cfg, model = build_from_config(path, random_checkpoints)
    names = list(model.dataset_names)
    expected = PAPER_CLASSES.get(path.stem) or [
        _dataset_classes(d) for d in cfg.train_dataloader.dataset.datasets]
    assert model.num_classes == expected
    assert [fc.out_features for fc in model.head.fcs] == expected

    inputs = torch.rand(2, 3, INPUT_SIZE, INPUT_SIZE) * 255
    # A preprocessor (normalising for the baselines, raw pixels for the
    # joint teachers) then the model, as the Runner calls them.
    data = model.data_preprocessor(dict(inputs=list(inputs.byte())), False)
    with torch.no_grad():
        out = model(data['inputs'], mode='tensor')
    assert [tuple(x.shape) for x in out['logits']] == [(2, k)
                                                        for k in expected]
    assert all(torch.isfinite(x).all() for x in out['logits'])
    feats = out['features']
    if cfg.model.type == 'JointTeacher':
        levels = PAPER_LEVELS.get(path.stem,
                                  _levels_wanted(cfg.model.levels))
        assert (model.num_levels, len(feats)) == (levels, levels)
        # Lk = the k deepest stages of every teacher, the deepest included.
        for teacher in model.teachers:
            assert len(teacher.levels) == levels
            assert teacher.levels[-1] == teacher.available_levels['L1']
        assert [f.shape[1] for f in feats] == model.level_channels
        # Levels halve in size down to the deepest (stride 32: 2 px at 64).
        assert [f.shape[-1] for f in feats] == [
            2 ** k for k in range(len(feats), 0, -1)]
    assert all(f.shape[0] == 2 for f in feats)

    # Predict: one sample per dataset (cycled), each scored by its own head.
    count = max(2, len(names))
    samples = make_samples(names, count)
    with torch.no_grad():
        preds = model(
            torch.rand(count, 3, INPUT_SIZE, INPUT_SIZE) * 255, samples,
            mode='predict')
    assert [s.dataset_name for s in preds] == (names * count)[:count]
    assert [len(s.pred_score) for s in preds] == (expected * count)[:count]
    for s in preds:
        torch.testing.assert_close(s.pred_score.sum(), torch.tensor(1.0))


@pytest.mark.parametrize('path', JOINT_CONFIGS, ids=_stem)
def test_teachers_are_the_papers(path):
    cfg = _load(path)
    teachers = cfg.model.teachers
    configs = [_stem(t.config) for t in teachers]
    expected = PAPER_TEACHERS.get(path.stem.split('_L')[0])
    if expected is not None:
        assert configs == expected
    for teacher in teachers:
        # Named relative to the joint config, found from any directory.
        assert Path(teacher.config).is_absolute(), teacher.config
        assert Path(teacher.config).is_file(), teacher.config
        # Each teacher loads its own stage-1 run's checkpoint: without a
        # pipeline_dir, where tools/train.py links it.
        assert teacher.checkpoint == 'auto', teacher.name
        assert cfg.get('pipeline_dir') is None
        assert auto_checkpoint(teacher.config, f'teachers/{teacher.name}') \
            == f'work_dirs/{_stem(teacher.config)}/best.pth'
    assert len({t.name for t in teachers}) == len(teachers)


@pytest.mark.parametrize('path', CONFIGS, ids=_stem)
def test_dataloaders_match_model(path):
    """The three loaders name the model's datasets in head order, on the
    train/val/test splits of the teachers' own dataset configs."""
    cfg = _load(path)
    model = cfg.model
    teachers = model.get('teachers', [])
    names = model.get('dataset_names') or [t.name for t in teachers]
    assert names, f'{path.name}: no datasets'
    entries = {}
    for key, split in SPLITS.items():
        dataset = cfg[key].dataset
        assert dataset.type == 'MultiDatasetWrapper', key
        assert list(dataset.names) == list(names), key
        assert [d.split for d in dataset.datasets] == [split] * len(names)
        entries[key] = [d.config for d in dataset.datasets]
    # The same dataset config for every split.
    assert entries['val_dataloader'] == entries['train_dataloader']
    assert entries['test_dataloader'] == entries['train_dataloader']
    assert cfg.train_dataloader.sampler.type == 'MultiDatasetSampler'
    assert cfg.val_evaluator.type == 'MultiDatasetMetric'

    dataset_configs = entries['train_dataloader']
    if teachers and not model.get('dataset_names'):
        # One dataset per teacher: the teacher's own.
        assert dataset_configs == [osp.normpath(t.config) for t in teachers]
    elif teachers:
        # Every teacher was trained on one of the datasets.
        own = [Config.fromfile(c).train_dataloader.dataset
               for c in dataset_configs]
        for teacher in teachers:
            trained_on = Config.fromfile(
                teacher.config).train_dataloader.dataset
            assert trained_on in own, teacher.name


@pytest.mark.parametrize('levels', [1, 2, 3, 4])
def test_level_ablations_change_only_levels(levels):
    """joint_t1_Lk is joint_t1 with levels 'Lk' (test_model_runs checks
    that the built model then has k joint levels)."""
    path = REPO / 'configs' / 'mlfd' / 'ablations' / f'joint_t1_L{levels}.py'
    assert path in CONFIGS
    ablation = _load(path)
    base = _load(REPO / 'configs' / 'mlfd' / 'joint_t1.py')
    assert ablation.model.levels == f'L{levels}'
    assert dict(ablation.model, levels=None) == dict(base.model, levels=None)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader',
                'optim_wrapper', 'param_scheduler', 'train_cfg'):
        assert ablation[key] == base[key], key


# ---------------------------------------------------------------------------
# Completion, checkpoint='auto' and paths that work from anywhere
# ---------------------------------------------------------------------------
MLFD = REPO / 'configs' / 'mlfd'
TEACHER_DIR = REPO / 'configs' / 'teachers'
OFFLINE = dict(mnist='offline_mnist_resnet18',
               fashion='offline_fashion_tinynet',
               animals='offline_animals_seresnext')


def _same_path(a, b):
    return Path(a).resolve() == Path(b).resolve()


def test_joint_offline_loaders_are_the_former_comprehension():
    """What the three-loader comprehension of joint_offline.py used to
    write: one dataset per teacher, in order, each split its own."""
    cfg = _load(MLFD / 'joint_offline.py')
    for key, split in SPLITS.items():
        dataset = cfg[key].dataset.to_dict()
        configs = [d.pop('config') for d in dataset['datasets']]
        assert dataset == dict(
            type='MultiDatasetWrapper', names=list(OFFLINE),
            datasets=[dict(split=split)] * 3), key
        assert all(_same_path(c, TEACHER_DIR / f'{stem}.py')
                   for c, stem in zip(configs, OFFLINE.values())), configs
    assert (cfg.train_dataloader.batch_size, cfg.val_dataloader.batch_size,
            cfg.test_dataloader.batch_size) == (64, 256, 256)


def test_wrapped_loaders_are_completed_inside():
    """joint_offline_cached's loaders (those of joint_offline, wrapped in
    CachedFeatureDataset once completed) get the teachers' datasets inside
    the wrapper."""
    cfg = complete_config(
        Config.fromfile(str(MLFD / 'joint_offline_cached.py')), 'none')
    for key, split in SPLITS.items():
        outer = cfg[key].dataset
        assert (outer.type, outer.split) == ('CachedFeatureDataset', split)
        assert list(outer.dataset.names) == list(OFFLINE)
        assert [d.split for d in outer.dataset.datasets] == [split] * 3


@pytest.mark.parametrize('online,cached,key,name', [
    ('joint_offline.py', 'joint_offline_cached.py', 'feature_cache', None),
    ('joint_offline.py', 'joint_offline_cached_pooled.py', 'feature_cache',
     None),
    ('joint_offline.py', 'joint_offline_cached_shrink.py', 'feature_cache',
     None),
    ('student_offline_fashion.py', 'student_offline_fashion_cached.py',
     'joint_output_cache', 'fashion'),
    ('student_offline_mnist.py', 'student_offline_mnist_cached_fp32.py',
     'joint_output_cache', 'mnist'),
])
def test_the_cache_option_alone_wraps_the_loaders(online, cached, key, name):
    """A _cached config names only the model's cache; completed
    (wrap_cached_loaders), each loader is the online config's dataset in a
    CachedFeatureDataset of that cache's root and split (a student's under
    its dataset name). Completing again changes nothing, a loader already
    wrapped is kept, and a student whose dataset has no name is told to
    wrap its loaders itself. A student's val and test loaders stay the
    online ones (its cache holds the training split by default) unless
    model.joint_output_cache.splits names them; a loader wrapped by hand
    for a split the cache does not hold is refused."""
    from mlfd_mm.config import wrap_cached_loaders
    cfg = complete_config(Config.fromfile(str(MLFD / cached)), 'none')
    plain = complete_config(Config.fromfile(str(MLFD / online)), 'none')
    root = cfg.model[key].root
    for loader, split in SPLITS.items():
        wrapped = cfg[loader].dataset.to_dict()
        expected = dict(type='CachedFeatureDataset', root=root, split=split,
                        dataset=plain[loader].dataset.to_dict())
        if name:
            expected['dataset_name'] = name
            if split != 'train':  # the student alone validates and tests
                expected = plain[loader].dataset.to_dict()
        assert wrapped == expected, loader
    assert wrap_cached_loaders(Config(cfg.to_dict())).to_dict() == \
        cfg.to_dict()
    if name:
        unnamed = Config.fromfile(str(MLFD / online))
        unnamed.merge_from_dict({'model.dataset': 1,
                                 f'model.{key}': dict(root='c')})
        with pytest.raises(ValueError, match=r"train_dataloader: model\."
                           r"joint_output_cache reads the cache by dataset "
                           r"name, but model.dataset is 1"):
            wrap_cached_loaders(unnamed)
        every = Config.fromfile(str(MLFD / cached))
        every.merge_from_dict(
            {f'model.{key}.splits': ['test', 'train', 'val']})
        every = complete_config(every, 'none')
        assert [every[loader].dataset.get('split') for loader in SPLITS] \
            == list(SPLITS.values())
        assert every.test_dataloader.dataset.dataset_name == name
        by_hand = Config(dict(cfg.to_dict(),
                              val_dataloader=every.val_dataloader.to_dict()))
        with pytest.raises(ValueError, match=r"val_dataloader reads split "
                           r"'val' of the joint-output cache .*splits is "
                           r"\['train'\]: add 'val' to it"):
            wrap_cached_loaders(by_hand)
        for bad in (['val'], ['train', 'train'], ['train', 'valid']):
            unknown = Config(dict(plain.to_dict(), model=dict(
                plain.model.to_dict(), **{key: dict(root='c', splits=bad)})))
            with pytest.raises(ValueError,
                               match=r"splits must name 'train'"):
                wrap_cached_loaders(unknown)


def test_the_shrink_first_variant_differs_in_the_neck_alone():
    """joint_offline_cached_shrink.py (and its pipeline) is the cached joint
    teacher with the neck that pools before it projects, reading the same
    teacher-feature cache."""
    base = Config.fromfile(str(MLFD / 'joint_offline_cached.py'))
    shrink = Config.fromfile(str(MLFD / 'joint_offline_cached_shrink.py'))
    assert shrink.model.fusion.pop('shrink_first') is True
    assert 'shrink_first' not in base.model.fusion
    assert shrink.model.to_dict() == base.model.to_dict()
    pipes = REPO / 'configs' / 'pipelines'
    pipe = Config.fromfile(str(pipes / 'offline_cached_shrink.py'))
    default = Config.fromfile(str(pipes / 'offline_cached.py'))
    assert _same_path(pipe.joint_teacher,
                      MLFD / 'joint_offline_cached_shrink.py')
    assert (pipe.students, pipe.teachers) == (default.students,
                                              default.teachers)


@pytest.mark.parametrize('count', [2, 3])
def test_t3_subsets_keep_the_first_teachers(count):
    full = _load(MLFD / 'joint_t3.py')
    subset = _load(MLFD / f'joint_t3_m{count}.py')
    assert subset.model.teachers == full.model.teachers[:count]
    names = [t.name for t in full.model.teachers[:count]]
    for key in SPLITS:
        assert list(subset[key].dataset.names) == names
        assert subset[key].batch_size == full[key].batch_size
    assert dict(subset.model, teachers=None) == dict(full.model,
                                                     teachers=None)


def test_joint_datasets_name_the_loaders_when_not_the_teachers():
    cfg = _load(REPO / 'configs' / 'amtml' / 'joint_fashion_same_dataset.py')
    assert 'joint_datasets' not in cfg  # used, then removed
    assert len(cfg.model.teachers) == 3
    for key, split in SPLITS.items():
        dataset = cfg[key].dataset
        assert list(dataset.names) == ['fashion']
        assert [d.split for d in dataset.datasets] == [split]
        assert _same_path(dataset.datasets[0].config,
                          TEACHER_DIR / 'offline_fashion_tinynet.py')


def test_completion_keeps_explicit_loaders_and_is_idempotent():
    once = _load(MLFD / 'joint_offline.py')
    twice = complete_joint_loaders(Config(once.to_dict()))
    assert twice.to_dict() == once.to_dict()
    # A loader that lists its datasets is left alone.
    cfg = Config.fromfile(str(MLFD / 'student_offline_mnist_unlabeled.py'))
    before = cfg.train_dataloader.to_dict()
    complete_joint_loaders(cfg)
    assert cfg.train_dataloader.to_dict() == before


def _touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b'')
    return path


def test_auto_checkpoints_follow_the_pipeline_layout(tmp_path):
    run = tmp_path / 'offline' / 'seed0'
    for name in OFFLINE:
        _touch(run / 'teachers' / name / 'best.pth')
    _touch(run / 'joint' / 'best.pth')
    joint = Config.fromfile(str(MLFD / 'joint_offline.py'))
    # By default the seed-0 run of `make demo` in this repository.
    assert _same_path(joint.pipeline_dir, REPO / 'work_dirs/offline/seed0')
    joint.pipeline_dir = str(run)
    complete_config(joint)
    assert [t.checkpoint for t in joint.model.teachers] == [
        str(run / 'teachers' / name / 'best.pth') for name in OFFLINE]
    student = Config.fromfile(str(MLFD / 'student_offline_mnist.py'))
    student.pipeline_dir = str(run)
    complete_config(student)
    assert student.model.teacher.checkpoint == str(run / 'joint/best.pth')


def test_auto_checkpoint_missing_names_the_teacher_and_the_path(tmp_path):
    cfg = Config.fromfile(str(MLFD / 'joint_offline.py'))
    cfg.pipeline_dir = str(tmp_path)
    _touch(tmp_path / 'teachers' / 'mnist' / 'best.pth')
    looked_for = tmp_path / 'teachers' / 'fashion' / 'best.pth'
    with pytest.raises(FileNotFoundError) as error:
        resolve_auto_checkpoints(cfg)
    assert "teacher 'fashion'" in str(error.value)
    assert str(looked_for) in str(error.value)
    # missing='none': the teachers' weights come from elsewhere (a joint
    # checkpoint)
    resolve_auto_checkpoints(cfg, missing='none')
    assert [t.checkpoint for t in cfg.model.teachers] == [
        str(tmp_path / 'teachers/mnist/best.pth'), None, None]


def test_auto_without_pipeline_dir_is_where_train_py_links_it(
        tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    stems = PAPER_TEACHERS['joint_t1']
    for stem in stems:
        _touch(tmp_path / 'work_dirs' / stem / 'best.pth')
    cfg = complete_config(Config.fromfile(str(MLFD / 'joint_t1.py')))
    assert [t.checkpoint for t in cfg.model.teachers] == [
        f'work_dirs/{stem}/best.pth' for stem in stems]
    student = Config.fromfile(str(MLFD / 'student_action_hmdb51.py'))
    with pytest.raises(FileNotFoundError,
                       match='work_dirs/joint_action/best.pth'):
        complete_config(student)


def _config_paths(node):
    """Every string of a config that names a .py file."""
    if isinstance(node, dict):
        for value in node.values():
            yield from _config_paths(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from _config_paths(value)
    elif isinstance(node, str) and node.endswith('.py'):
        yield node


@pytest.mark.parametrize('path', [
    'mlfd/joint_offline.py', 'mlfd/student_offline_fashion.py',
    'mlfd/joint_offline_video.py', 'mlfd/joint_t3_m2.py',
    'amtml/amtml_fashion_tinynet.py', 'pipelines/offline.py',
    'pipelines/offline_levels_L1.py', 'pipelines/amtml_fashion_extra.py'])
def test_config_references_resolve_from_another_directory(
        path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = _load(REPO / 'configs' / path).to_dict()
    named = list(_config_paths(cfg))
    assert named
    for name in named:
        assert Path(name).is_absolute() and Path(name).is_file(), name


def test_joint_offline_datasets_build_from_another_directory(
        tmp_path, monkeypatch):
    if not (REPO / 'data' / 'offline' / 'mnist').is_dir():
        pytest.skip('offline data not built (make data)')
    from mmengine.registry import DATASETS
    monkeypatch.chdir(tmp_path)
    cfg = _load(MLFD / 'joint_offline.py')
    wrapper = DATASETS.build(cfg.val_dataloader.dataset)
    assert wrapper.names == list(OFFLINE)
    assert all(size > 0 for size in wrapper.dataset_sizes)
