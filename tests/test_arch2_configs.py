"""The second architecture set's configs (README "A second architecture
set"): MobileNetV2 on offline fashion, ShuffleNetV2 on offline digits, their
joint teacher and students. Each builds from its file with random weights
and takes a training step at the offline sets' 32 px; the real runs are
``configs/pipelines/offline_arch2*.py``."""
import os.path as osp

import mlfd_mm  # noqa: F401  (compat fixes before torchvision is imported)

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope
from mmpretrain.structures import DataSample

from test_mlfd_distiller import _in_repo, _random_joint, _student_from_config

TEACHERS = {
    'fashion': ('configs/teachers/arch2_fashion_mobilenet_v2.py',
                'MobileNetV2', [2, 4, 7]),
    'digits': ('configs/teachers/arch2_digits_shufflenet_v2.py',
               'ShuffleNetV2', [0, 1, 3]),
}
JOINT = 'configs/mlfd/joint_offline_arch2.py'


@pytest.fixture(autouse=True, scope='module')
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        yield
    torch.set_num_threads(threads)


def _samples(labels, name=None):
    return [DataSample(metainfo=dict(dataset_name=name)).set_gt_label(k)
            for k in labels]


@pytest.mark.parametrize('name', list(TEACHERS))
def test_teacher_config_trains_a_step(name):
    """Stage 1: the stock model of the config, one SGD step on a 32 px
    batch, over a 15-epoch schedule whose cosine phase ends with it."""
    path, backbone, _ = TEACHERS[name]
    cfg = Config.fromfile(_in_repo(path))
    assert cfg.model.backbone.type == backbone
    assert cfg.train_cfg.max_epochs == 15
    # mmengine ends a scheduler without `end` at max_epochs
    assert [s.get('end', cfg.train_cfg.max_epochs)
            for s in cfg.param_scheduler] == [1, 15]
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    inputs = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        assert tuple(model(inputs, mode='tensor').shape) == (4, 10)
    before = model.head.fc.weight.detach().clone()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    losses = model(inputs, _samples([0, 3, 5, 9]), mode='loss')
    assert torch.isfinite(losses['loss'])
    losses['loss'].backward()
    optimizer.step()
    assert not torch.equal(before, model.head.fc.weight)


def test_joint_config_fuses_three_levels_down_to_1px():
    """Stage 2: at 32 px both backbones end at 1 px; L3 takes the deepest
    stage of the 4, 2 and 1 px resolutions of each teacher."""
    joint_cfg = _random_joint(JOINT)
    assert [t['name'] for t in joint_cfg['teachers']] == list(TEACHERS)
    for spec in joint_cfg['teachers']:
        spec['input_size'] = 32
    torch.manual_seed(0)
    joint = MODELS.build(joint_cfg)
    joint.init_weights()
    assert [t.levels for t in joint.teachers] == [
        levels for _, _, levels in TEACHERS.values()]
    data = joint.data_preprocessor(
        dict(inputs=list((torch.rand(2, 3, 32, 32) * 255).byte())), False)
    with torch.no_grad():
        out = joint(data['inputs'], mode='tensor')
    assert [f.shape[-1] for f in out['features']] == [4, 2, 1]
    assert [tuple(x.shape) for x in out['logits']] == [(2, 10), (2, 10)]

    samples = _samples([1, 2])
    for i, sample in enumerate(samples):
        sample.set_metainfo(dict(dataset_idx=i,
                                 dataset_name=list(TEACHERS)[i]))
    joint.train()
    losses = joint(data['inputs'], samples, mode='loss')
    loss = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is None for t in joint.teachers
               for p in t.parameters())


@pytest.mark.parametrize('recipe,weights', [
    ('', dict(kd=0.6, feature=0.2, ce=1.0)),
    ('_authors', dict(kd=0.6, feature=0.2, ce=0.2)),
])
@pytest.mark.parametrize('name', list(TEACHERS))
def test_student_config_trains_a_step(name, recipe, weights):
    """Stage 3: the student is its teacher's architecture; 'auto' pairs its
    4, 2 and 1 px stages with l1..l3; every loss term is finite and reaches
    the student."""
    path, _, stages = TEACHERS[name]
    cfg, distiller = _student_from_config(
        f'configs/mlfd/student_arch2_{name}{recipe}.py')
    assert osp.normpath(cfg.model.student) == _in_repo(path)
    assert distiller.dataset_name == name
    assert distiller.pairs == [(s, k) for k, s in enumerate(stages)]
    assert {k: distiller.base_loss_weights[k] for k in weights} == weights
    torch.manual_seed(0)
    losses = distiller(torch.rand(3, 3, 32, 32) * 255,
                       _samples([0, 4, 9], name), mode='loss')
    assert {'loss_ce', 'loss_kd'} <= set(losses)
    assert len([k for k in losses if k.startswith('loss_feature')]) == 3
    assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    grads = [p.grad for p in distiller.student.parameters()]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize('variant,init,weights', [
    ('authors', None, dict(kd=0.6, feature=0.2, ce=0.2)),
    ('init', 'stage1', dict(kd=0.6, feature=0.2, ce=1.0)),
    ('init_ce_only', 'stage1', dict(kd=0., feature=0., ce=1.0)),
])
def test_recipe_pipelines_reuse_the_default_ones_stages(variant, init,
                                                        weights):
    """Each recipe pipeline differs from offline_arch2.py in its students
    only, and reuses its stage-1/2 runs."""
    default = Config.fromfile(_in_repo('configs/pipelines/offline_arch2.py'))
    pipe = Config.fromfile(
        _in_repo(f'configs/pipelines/offline_arch2_{variant}.py'))
    assert _in_repo(pipe.stages_of) == _in_repo(
        'configs/pipelines/offline_arch2.py')
    assert (pipe.teachers, pipe.joint_teacher) == (
        default.teachers, default.joint_teacher)
    assert set(pipe.students) == set(default.students) == set(TEACHERS)
    for name, path in pipe.students.items():
        model = Config.fromfile(path).model
        assert model.get('student_init') == init
        assert model.loss_weights.to_dict() == weights
        assert model.dataset == name


@pytest.mark.parametrize('path,dataset', [
    ('configs/mlfd/joint_offline_arch2_cached.py', None),
    ('configs/mlfd/student_arch2_fashion_cached.py', 'fashion'),
    ('configs/mlfd/student_arch2_digits_cached.py', 'digits'),
])
def test_cached_configs_read_one_cache_in_every_loader(path, dataset):
    """The cached pipeline of the second set (offline_arch2_cached.py):
    the configs name only the model's cache; completed, every loader of
    the joint teacher and a student's training loader read it and wrap the
    online config's own dataset (a student validates and tests alone, on
    the online loaders)."""
    from mlfd_mm.config import complete_config
    cfg = complete_config(Config.fromfile(_in_repo(path)), 'none')
    online = complete_config(Config.fromfile(_in_repo(
        path.replace('_cached', ''))), 'none')
    key = 'joint_output_cache' if dataset else 'feature_cache'
    root = cfg.model[key]['root']
    assert cfg.model[key]['dtype'] == 'float16'
    for split in ('train', 'val', 'test'):
        wrapped = cfg[f'{split}_dataloader'].dataset
        if dataset and split != 'train':
            assert wrapped == online[f'{split}_dataloader'].dataset
            continue
        assert wrapped.type == 'CachedFeatureDataset'
        assert (wrapped.root, wrapped.split) == (root, split)
        assert wrapped.get('dataset_name') == dataset
        assert wrapped.dataset == online[f'{split}_dataloader'].dataset
    pipeline = Config.fromfile(_in_repo(
        'configs/pipelines/offline_arch2_cached.py'))
    assert osp.basename(pipeline.joint_teacher) == \
        'joint_offline_arch2_cached.py'
    assert sorted(osp.basename(p) for p in pipeline.students.values()) == [
        'student_arch2_digits_cached.py', 'student_arch2_fashion_cached.py']
