"""Stage 3 of the paper's image sets (T1, T3, T4) and their pipelines.

Every student config ``configs/mlfd/student_t[134]_*.py`` is the MLFD
distiller over its dataset-specific teacher's architecture, data and
schedule, with the authors' loss weights; its model builds (joint teacher
with random weights: no checkpoint here) and takes one training step on two
random images. Each pipeline ``configs/pipelines/t{1,3,4}.py`` names
existing configs whose datasets agree, and the joint teacher's budget is
about 1/5 of a teacher's.
"""
import os.path as osp

import mlfd_mm  # noqa: F401  (compat fixes before torchvision is imported)
import pytest
import torch
from conftest import REPO
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

CONFIGS = osp.join(REPO, 'configs')
# student config stem -> (joint config stem, teacher config stem, dataset)
STUDENTS = {
    'student_t1_cifar100': ('joint_t1', 't1_resnet18_cifar100', 'cifar100'),
    'student_t1_tiny_imagenet': ('joint_t1',
                                 't1_efficientnet_b0_tiny_imagenet',
                                 'tiny_imagenet'),
    'student_t1_imagenet_sketch': ('joint_t1',
                                   't1_seresnext26d_imagenet_sketch',
                                   'imagenet_sketch'),
    'student_t3_caltech101': ('joint_t3', 't3_resnet18_caltech101',
                              'caltech101'),
    'student_t3_flowers102': ('joint_t3', 't3_efficientnet_b0_flowers102',
                              'flowers102'),
    'student_t3_cub': ('joint_t3', 't3_seresnext26d_cub', 'cub'),
    'student_t3_oxford_pets': ('joint_t3', 't3_resnet18_oxford_pets',
                               'oxford_pets'),
    'student_t4_cifar100': ('joint_t4', 't4_resnet50_cifar100', 'cifar100'),
    'student_t4_tiny_imagenet': ('joint_t4',
                                 't4_efficientnet_b1_tiny_imagenet',
                                 'tiny_imagenet'),
    'student_t4_imagenet_sketch': ('joint_t4',
                                   't4_seresnext50d_imagenet_sketch',
                                   'imagenet_sketch'),
}
PIPELINES = dict(t1='joint_t1', t3='joint_t3', t4='joint_t4')
# The teacher's data and schedule, taken over unchanged by its student.
SAME_AS_TEACHER = ('train_dataloader', 'val_dataloader', 'test_dataloader',
                   'val_evaluator', 'test_evaluator', 'data_preprocessor',
                   'optim_wrapper', 'param_scheduler', 'train_cfg',
                   'auto_scale_lr', 'default_scope')
SIZE = 224


def _load(*parts):
    return Config.fromfile(osp.join(CONFIGS, *parts))


def _norm(path):
    return osp.normpath(path)


def test_every_paper_student_is_tested():
    found = {osp.splitext(osp.basename(p))[0] for p in __import__(
        'glob').glob(osp.join(CONFIGS, 'mlfd', 'student_t[134]_*.py'))}
    assert found == set(STUDENTS)


@pytest.mark.parametrize('stem', list(STUDENTS))
def test_student_config(stem):
    joint, teacher, dataset = STUDENTS[stem]
    cfg = _load('mlfd', f'{stem}.py')
    teacher_file = osp.join(CONFIGS, 'teachers', f'{teacher}.py')
    assert cfg.model.type == 'MLFDDistiller'
    assert _norm(cfg.model.student) == teacher_file
    assert cfg.model.teacher == dict(
        config=osp.join(CONFIGS, 'mlfd', f'{joint}.py'), checkpoint='auto')
    assert cfg.model.dataset == dataset
    assert cfg.model.distill == 'auto'
    assert cfg.model.loss_weights == dict(kd=0.6, feature=0.2, ce=0.2)
    assert cfg.model.temperature == 2.0
    teacher_cfg = Config.fromfile(teacher_file)
    for key in SAME_AS_TEACHER:
        assert cfg[key] == teacher_cfg[key], key
    joint_names = [t['name'] for t in _load('mlfd', f'{joint}.py')
                   .model.teachers]
    assert dataset in joint_names


def _samples(label, n=2):
    return [DataSample().set_gt_label(label) for _ in range(n)]


@pytest.mark.parametrize('stem', list(STUDENTS))
def test_student_builds_and_trains_one_step(stem):
    """A train_step on two random 224 px images, joint teacher random."""
    cfg = _load('mlfd', f'{stem}.py')
    model_cfg = cfg.model.to_dict()
    model_cfg['teacher']['checkpoint'] = None
    model_cfg['data_preprocessor'] = cfg.data_preprocessor.to_dict()
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(model_cfg)
    model.init_weights()
    # three distilled pairs: the joint teacher's three levels (28/14/7 px)
    assert len(model.pairs) == 3
    assert sorted(j for _, j in model.pairs) == [0, 1, 2]
    optim = OptimWrapper(torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad], lr=0.01))
    data = dict(inputs=torch.randint(0, 256, (2, 3, SIZE, SIZE),
                                     dtype=torch.uint8),
                data_samples=_samples(1))
    before = {k: v.clone() for k, v in model.student.named_parameters()
              if v.requires_grad}
    model.train()
    logs = model.train_step(data, optim)
    assert {'loss_ce', 'loss_kd'} <= set(logs)
    assert sum(k.startswith('loss_feature') for k in logs) == 3
    assert all(torch.isfinite(v) for v in logs.values())
    after = dict(model.student.named_parameters())
    assert any(not torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize('name', list(PIPELINES))
def test_pipeline_config(name):
    pipe = _load('pipelines', f'{name}.py')
    assert pipe.name == name
    joint_file = osp.join(CONFIGS, 'mlfd', f'{PIPELINES[name]}.py')
    assert _norm(pipe.joint_teacher) == joint_file
    paths = [*pipe.teachers.values(), pipe.joint_teacher,
             *pipe.students.values()]
    assert all(osp.isfile(p) for p in paths), paths
    joint = Config.fromfile(joint_file)
    # the pipeline's teachers are the joint teacher's, by name and config
    assert {t['name']: _norm(t['config']) for t in joint.model.teachers} == {
        k: _norm(v) for k, v in pipe.teachers.items()}
    # one student per dataset, of its teacher's architecture, on its data
    assert list(pipe.students) == list(pipe.teachers)
    for dataset, path in pipe.students.items():
        student = Config.fromfile(path)
        assert _norm(student.model.teacher.config) == joint_file
        assert student.model.dataset == dataset
        assert _norm(student.model.student) == _norm(pipe.teachers[dataset])
        teacher = Config.fromfile(pipe.teachers[dataset])
        assert student.train_dataloader == teacher.train_dataloader


@pytest.mark.parametrize('joint', ['joint_t1', 'joint_t3', 'joint_t3_m2',
                                   'joint_t3_m3', 'joint_t4'])
def test_joint_budget_is_a_fifth_of_a_teacher(joint):
    """A joint epoch draws sum(N_i) images and a joint step costs about a
    teacher's step: E * m / teacher epochs is the share of a teacher's
    steps (the paper: about 1/5)."""
    cfg = _load('mlfd', f'{joint}.py')
    teacher = Config.fromfile(cfg.model.teachers[0]['config'])
    m = len(cfg.model.teachers)
    share = cfg.train_cfg.max_epochs * m / teacher.train_cfg.max_epochs
    assert 0.18 <= share <= 0.22, share
    # no `end`: mmengine ends the cosine phase at max_epochs
    assert 'end' not in cfg.param_scheduler[-1]
