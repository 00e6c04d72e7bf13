"""The joint-output cache (stage 3): an MLFD student trained from its joint
teacher's cached outputs, with no teacher built or run."""
import copy
import json

import pytest
import torch
from conftest import (distiller_config, make_image_folder,
                      make_joint_teacher, state_copy)
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import DATASETS, MODELS, DefaultScope

from mlfd_mm.apis.feature_cache import cache_features
from mlfd_mm.cache import CachedFeatureDataset, StaleCacheError
from mlfd_mm.cache.joint_outputs import CachedJointOutputs
from mlfd_mm.models.distillers import MLFDDistiller
from mlfd_mm.models.joint_teacher import JointTeacher

SPLITS = ('train', 'test')


def cached_config(cfg, root, dtype='float32'):
    """``cfg`` (a whole distiller config) training from the joint-output
    cache at ``root``."""
    cfg = copy.deepcopy(cfg)
    cfg['model']['joint_output_cache'] = dict(root=str(root), dtype=dtype,
                                              splits=list(SPLITS))
    for split in ('train', 'val', 'test'):
        loader = cfg[f'{split}_dataloader'] = copy.deepcopy(
            cfg[f'{split}_dataloader'])
        loader['dataset'] = dict(
            type='CachedFeatureDataset', root=str(root),
            split='test' if split == 'val' else split,
            dataset_name='shapes', dataset=loader['dataset'])
    return cfg


@pytest.fixture
def setup(tmp_path):
    teacher = make_joint_teacher(tmp_path)
    data = str(make_image_folder(tmp_path / 'images'))
    online = distiller_config(teacher, data, tmp_path / 'work', max_epochs=1)
    root = tmp_path / 'cache'
    config = tmp_path / 'student_cached.py'
    Config(cached_config(online, root)).dump(str(config))
    return dict(tmp=tmp_path, online=online, root=root, config=str(config),
                teacher=teacher)


def build(model_cfg):
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(copy.deepcopy(model_cfg))


def batch_of(cfg, split='train', indices=(0, 3, 5, 9)):
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        dataset = DATASETS.build(copy.deepcopy(
            cfg[f'{split}_dataloader']['dataset']))
        return pseudo_collate([dataset[i] for i in indices])


def test_cache_matches_the_online_teacher_in_fp16_and_fp32(setup):
    online = build(setup['online']['model']).eval()
    data = batch_of(setup['online'])
    inputs = online.data_preprocessor(data, False)['inputs']
    expected = online._teacher_outputs(inputs, None)
    for dtype, tol in (('float32', 1e-6), ('float16', 2e-3)):
        cfg = cached_config(setup['online'], setup['tmp'] / dtype, dtype)
        path = setup['tmp'] / f'{dtype}.py'
        Config(cfg).dump(str(path))
        assert cache_features(str(path), SPLITS, num_workers=0) == 0
        manifest = json.loads((setup['tmp'] / dtype /
                               'manifest.json').read_text())
        assert manifest['kind'] == 'joint_outputs'
        assert manifest['dtype'] == dtype
        assert [o['name'] for o in manifest['outputs']] == [
            'l1', 'l2', 'l3', 'logits']
        assert manifest['shapes'] == [[[8, 4, 4]], [[8, 2, 2]], [[8, 1, 1]],
                                      [[5, 1, 1]]]
        cached = build(cfg['model']).eval()
        assert isinstance(cached.teacher, CachedJointOutputs)
        assert not any(isinstance(m, JointTeacher) for m in cached.modules())
        got = cached._teacher_outputs(inputs, batch_of(cfg)['data_samples'])
        index = online.dataset_index
        assert got['logits'][index].shape == (4, 5)
        scale = expected['logits'][index].abs().max()
        assert torch.allclose(got['logits'][index],
                              expected['logits'][index], atol=tol * scale)
        for level in range(3):
            want = expected['features'][level]
            assert got['features'][level].shape == want.shape
            assert torch.allclose(got['features'][level], want,
                                  atol=tol * want.abs().max()), level
        if dtype == 'float16':
            assert not torch.equal(got['logits'][index],
                                   expected['logits'][index])


def test_cached_step_equals_online_and_runs_no_teacher(setup, monkeypatch):
    """On the same un-augmented inputs and the same student weights, the
    cached training step gives the online step's losses, and the cached
    distiller builds and runs no joint teacher."""
    cache_features(setup['config'], SPLITS, num_workers=0)
    cfg = Config.fromfile(setup['config']).to_dict()
    torch.manual_seed(0)
    online = build(setup['online']['model'])
    built = []
    real_init = JointTeacher.__init__
    monkeypatch.setattr(JointTeacher, '__init__', lambda self, *a, **k: (
        built.append(1), real_init(self, *a, **k))[1])
    cached = build(cfg['model'])
    assert built == []
    missing, unexpected = cached.load_state_dict(
        {k: v for k, v in state_copy(online).items()
         if not k.startswith('teacher.')}, strict=True)
    runs = []
    monkeypatch.setattr(JointTeacher, 'forward', lambda *a, **k: (
        runs.append(1), pytest.fail('the joint teacher ran')))
    cached.train()
    data = cached.data_preprocessor(batch_of(cfg), True)
    cached_losses = cached(data['inputs'], data['data_samples'], mode='loss')
    assert runs == []
    monkeypatch.undo()
    online.train()
    data = online.data_preprocessor(batch_of(setup['online']), True)
    online_losses = online(data['inputs'], data['data_samples'], mode='loss')
    assert set(cached_losses) == set(online_losses) == {
        'loss_ce', 'loss_kd', 'loss_feature_s0_l1', 'loss_feature_s2_l2',
        'loss_feature_s3_l3'}
    for key, value in online_losses.items():
        assert torch.allclose(cached_losses[key], value, atol=1e-5), key


def test_changed_joint_checkpoint_is_named(setup):
    cache_features(setup['config'], SPLITS, num_workers=0)
    cfg = Config.fromfile(setup['config']).to_dict()
    checkpoint = setup['teacher']['checkpoint']
    state = torch.load(checkpoint, weights_only=True)
    next(iter(state['state_dict'].values())).add_(1)
    torch.save(state, checkpoint)
    with pytest.raises(StaleCacheError,
                       match='joint teacher checkpoint changed'):
        build(cfg['model'])
    # the builder refuses too, and --force rebuilds
    with pytest.raises(StaleCacheError, match='joint teacher checkpoint'):
        cache_features(setup['config'], SPLITS, num_workers=0)
    assert cache_features(setup['config'], SPLITS, num_workers=0,
                          force=True) == 0
    assert isinstance(build(cfg['model']).teacher, CachedJointOutputs)


def test_changed_levels_dataset_and_config_are_named(setup):
    cache_features(setup['config'], SPLITS, num_workers=0)
    cfg = Config.fromfile(setup['config']).to_dict()
    model = copy.deepcopy(cfg['model'])
    model['distill'] = [(2, 'l2')]
    model['loss_weights'] = dict(kd=0.6, feature=0.2, ce=0.2)
    build(model)  # fewer levels than cached: fine
    model['teacher']['config']['fusion']['width'] = 16
    with pytest.raises(StaleCacheError, match='joint teacher config changed'):
        build(model)
    model = copy.deepcopy(cfg['model'])
    model['dataset'] = 'digits'
    model['student'] = copy.deepcopy(cfg['model']['student'])
    model['student']['head']['num_classes'] = 3
    with pytest.raises(StaleCacheError, match="the cache holds the joint "
                       "head of 'shapes', the student trains on 'digits'"):
        build(model)


def test_partial_or_missing_cache_is_refused(setup, monkeypatch):
    from mlfd_mm.cache import writer as writer_module
    calls = []
    real = writer_module.mark_shard_complete

    def dies(*args):
        calls.append(args)
        if len(calls) == 2:
            raise KeyboardInterrupt  # killed after the first shard
        real(*args)

    monkeypatch.setattr(writer_module, 'mark_shard_complete', dies)
    cfg = Config.fromfile(setup['config']).to_dict()
    with pytest.raises(FileNotFoundError, match='has no manifest.json'):
        build(cfg['model'])
    with pytest.raises(KeyboardInterrupt):
        cache_features(setup['config'], SPLITS, num_workers=0,
                       shard_size=4)
    monkeypatch.undo()
    with DefaultScope.overwrite_default_scope('mmpretrain'), \
            pytest.raises(RuntimeError, match=r'is incomplete: shards \[1, 2\]'
                          r' of 3'):
        DATASETS.build(cfg['train_dataloader']['dataset'])
    # resumed: the rest is written, and the cache reads
    assert cache_features(setup['config'], SPLITS, num_workers=0) == 0
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        assert len(DATASETS.build(cfg['train_dataloader']['dataset'])) == 10


def test_a_teacher_feature_cache_is_not_a_joint_output_cache(setup):
    cache_features(setup['config'], SPLITS, num_workers=0)
    from mlfd_mm.cache.teacher_features import CachedTeacherFeatures
    reader = CachedTeacherFeatures(str(setup['root']))
    with pytest.raises(StaleCacheError, match="a joint teacher's outputs"):
        reader._validate([])


def test_uncached_samples_are_refused_with_the_fix(setup, batch):
    cache_features(setup['config'], SPLITS, num_workers=0)
    cfg = Config.fromfile(setup['config']).to_dict()
    cached = build(cfg['model'])
    inputs, samples, _ = batch
    with pytest.raises(ValueError, match='wrap the loader\'s dataset in '
                       'CachedFeatureDataset'):
        cached(inputs, samples, mode='loss')


def test_shrink_first_connector_is_the_same_map_in_eval_at_fewer_positions():
    """Pooling and a 1x1 conv + BN in eval mode commute: shrink_first gives
    the same output; in training its conv sees the pooled map."""
    from mlfd_mm.models.connectors import FeatureConnector
    torch.manual_seed(0)
    late = FeatureConnector(4, 8)
    early = FeatureConnector(4, 8, shrink_first=True)
    early.load_state_dict(late.state_dict())
    late.project[1].running_mean.normal_()
    early.project[1].running_mean.copy_(late.project[1].running_mean)
    feat = torch.randn(2, 4, 8, 8)
    late.eval(), early.eval()
    assert torch.allclose(early(feat, (4, 4)), late(feat, (4, 4)), atol=1e-5)
    seen = []
    early.project[0].register_forward_hook(
        lambda m, i, o: seen.append(tuple(i[0].shape)))
    early.train()
    assert early(feat, (4, 4)).shape == (2, 8, 4, 4)
    assert early(feat, (16, 16)).shape == (2, 8, 16, 16)  # grows: after
    assert seen == [(2, 4, 4, 4), (2, 4, 8, 8)]


def _teacher_feature_cache(online, cfg, root, pipeline=None, flip=False):
    """A teacher-feature cache (float32) of the 'shapes' splits of ``cfg``,
    as the cached pipeline's joint stage writes one: the online
    distiller's teachers on its raw inputs (channels reversed with
    ``flip``: another preprocessing)."""
    from mlfd_mm.cache import DatasetSource, FeatureCacheWriter

    def preprocess(data, training):
        inputs = online.data_preprocessor(data, training)['inputs']
        return dict(inputs=inputs.flip(1) if flip else inputs)

    writer = FeatureCacheWriter(online.teacher.teachers, str(root),
                                preprocess, dtype='float32', progress=False)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        sources = {}
        for split in SPLITS:
            dataset_cfg = copy.deepcopy(cfg[f'{split}_dataloader']['dataset'])
            if pipeline is not None:
                dataset_cfg['pipeline'] = pipeline
            sources[split] = [DatasetSource(
                'shapes', DATASETS.build(dataset_cfg),
                dataset_cfg['pipeline'])]
        writer.prepare(sources)
        writer.write(sources, check_space=False)


def _rows(root, split):
    from mlfd_mm.cache import FeatureCacheReader
    reader = FeatureCacheReader(str(root), split)
    return torch.stack([torch.from_numpy(reader.read('shapes', i))
                        for i in range(10)])


@pytest.mark.parametrize('case', ['same', 'pipeline', 'preprocessing',
                                  'partial'])
def test_joint_outputs_from_the_joint_stages_teacher_feature_cache(
        setup, monkeypatch, capsys, case):
    """When the joint teacher's config reads a teacher-feature cache (the
    cached pipeline's joint stage) that holds the student's samples with
    the same pipeline, the student's joint-output cache is built from it:
    the teachers run on one probe sample per split instead of every sample,
    and the rows equal those of the online build. Another pipeline,
    another preprocessing or a split whose shards are not all marked
    complete (an interrupted build) is caught and the teachers run."""
    from mlfd_mm.models.teachers import FrozenTeacher
    online = build(setup['online']['model']).eval()
    features = setup['tmp'] / 'teacher_features'
    pipeline = None
    if case == 'pipeline':
        pipeline = [dict(type='LoadImageFromFile'),
                    dict(type='Resize', scale=(32, 32)),
                    dict(type='PackInputs')]
    _teacher_feature_cache(online, setup['online'], features, pipeline,
                           flip=case == 'preprocessing')
    if case == 'partial':
        manifest_file = features / 'manifest.json'
        manifest = json.loads(manifest_file.read_text())
        for key, shard in manifest['shards'].items():
            if key.startswith('train/'):
                shard['complete'] = False
        manifest_file.write_text(json.dumps(manifest))
    cfg = Config.fromfile(setup['config']).to_dict()
    cfg['model']['teacher']['config'] = dict(
        cfg['model']['teacher']['config'],
        feature_cache=dict(root=str(features), dtype='float32'))
    cfg['model']['joint_output_cache']['root'] = str(setup['tmp'] / 'from')
    for split in ('train', 'val', 'test'):
        cfg[f'{split}_dataloader']['dataset']['root'] = str(
            setup['tmp'] / 'from')
    path = setup['tmp'] / 'student_from_features.py'
    Config(cfg).dump(str(path))
    seen = []
    real = FrozenTeacher.forward
    monkeypatch.setattr(FrozenTeacher, 'forward', lambda self, x, *a, **k: (
        seen.append(x.shape[0]), real(self, x, *a, **k))[1])
    assert cache_features(str(path), SPLITS, num_workers=0) == 0
    out = capsys.readouterr().out
    # samples through the two teachers: one probe per split from the
    # cache; else the 10 samples of each split, the shape probe (1) and,
    # once another preprocessing is found, the split probes; partial: the
    # train split as online, the test split from the cache
    assert sum(seen) == dict(same=2 * 2, pipeline=2 * (2 * 10 + 1),
                             preprocessing=2 * (2 * 10 + 1 + 2),
                             partial=2 * (10 + 1 + 1))[case]
    if case == 'same':
        assert out.count('teacher features from the cache') == len(SPLITS)
    elif case == 'partial':
        assert 'train/shapes: the teachers run (dataset \'shapes\' (split ' \
            'train) is incomplete)' in out
        assert 'test/shapes: teacher features from the cache' in out
    else:
        assert out.count('the teachers run') == len(SPLITS)
        assert ('another pipeline' if case == 'pipeline' else
                'differ from the teacher\'s') in out
    monkeypatch.undo()
    cache_features(setup['config'], SPLITS, num_workers=0)
    for split in SPLITS:
        got, want = _rows(setup['tmp'] / 'from', split), _rows(
            setup['root'], split)
        assert got.shape == want.shape == (10, 8 * (16 + 4 + 1) + 5)
        assert torch.allclose(got, want, atol=1e-5 * want.abs().max())


def test_a_student_cache_of_the_training_split_alone(setup):
    """By default a student's joint-output cache holds its training split
    only: the build writes no val or test rows, the student trains from the
    cache and validates and tests alone on the online loaders; the joint
    teacher's accuracy there is said to be unmeasured, and a hook that
    needs the teacher's outputs on val is refused with the key to set."""
    from mmengine.runner import Runner
    from mlfd_mm.config import complete_config
    from mlfd_mm.models.distillers import JointTeacherAccuracyHook
    cfg = copy.deepcopy(setup['online'])
    cfg['model']['joint_output_cache'] = dict(
        root=str(setup['tmp'] / 'train_only'), dtype='float16')
    path = setup['tmp'] / 'train_only.py'
    Config(cfg).dump(str(path))
    assert cache_features(str(path), num_workers=0) == 0
    manifest = json.loads((setup['tmp'] / 'train_only' /
                           'manifest.json').read_text())
    assert list(manifest['splits']) == ['train']
    completed = complete_config(Config.fromfile(str(path)), 'none')
    assert completed.train_dataloader.dataset.type == 'CachedFeatureDataset'
    assert completed.val_dataloader.dataset.type != 'CachedFeatureDataset'
    runner = Runner.from_cfg(completed)
    runner.train()
    metrics = runner.test()
    assert 0 <= metrics['accuracy/top1'] <= 100
    assert runner.model.teacher_cached
    hook = next(h for h in runner.hooks
                if isinstance(h, JointTeacherAccuracyHook))
    assert hook._unmeasured == {'val', 'test'}
    assert 'val/joint_teacher/accuracy_top1' not in \
        runner.message_hub.log_scalars
    completed.custom_hooks = [dict(type='DistillDiagnosticsHook')]
    completed.work_dir = str(setup['tmp'] / 'diag')
    with pytest.raises(ValueError, match=r"DistillDiagnosticsHook .* on the "
                       r"val split, .*splits is \['train'\]: add 'val'"):
        Runner.from_cfg(completed).train()
