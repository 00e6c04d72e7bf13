"""The paper's action-recognition MLFD configs (TSN-R50 ActivityNet, TSM-R50
HMDB-51 / UCF-101): the joint teacher and the three students are built from
their configs and run on random clips (64 px to stay fast; no data here),
the students start from the Kinetics-400 checkpoint their teachers'
configs name, and the joint teacher's datasets build from tiny annotation
files of the expected layout."""
import os.path as osp

import mlfd_mm  # noqa: F401  (compat fixes before torchvision)
import pytest
import torch
from conftest import REPO
from mmengine.config import Config
from video_fakes import (action_samples, fake_activitynet, fake_video_dataset,
                         joint_model_random_teachers, random_clips)
from mmengine.registry import DATASETS, MODELS, DefaultScope
from mlfd_mm.config import auto_checkpoint, complete_joint_loaders

JOINT = osp.join(REPO, 'configs/mlfd/joint_action.py')
NUM_CLASSES = dict(activitynet=200, hmdb51=51, ucf101=101)
TEACHERS = dict(activitynet='video_tsn_r50_activitynet',
                hmdb51='video_tsm_r50_hmdb51', ucf101='video_tsm_r50_ucf101')
SIZE = 64


def _student_config(name):
    return Config.fromfile(
        osp.join(REPO, f'configs/mlfd/student_action_{name}.py'))


def _joint_model_cfg():
    return joint_model_random_teachers(JOINT, input_size=SIZE)


@pytest.fixture(scope='module')
def joint():
    torch.manual_seed(0)
    model = MODELS.build(_joint_model_cfg())
    model.init_weights()
    return model.eval()


@pytest.fixture(scope='module')
def joint_checkpoint(joint, tmp_path_factory):
    path = tmp_path_factory.mktemp('joint') / 'joint_action.pth'
    torch.save(dict(state_dict=joint.state_dict(), meta={}), str(path))
    return str(path)


def test_joint_action_teacher_on_random_clips(joint):
    assert joint.dataset_names == list(NUM_CLASSES)
    assert joint.num_classes == list(NUM_CLASSES.values())
    assert joint.num_segments == 8
    # L1: the R50s' deepest stage, 2048 channels, fused to 256
    assert [t.levels for t in joint.teachers] == [[3]] * 3
    assert [t.out_channels for t in joint.teachers] == [[2048]] * 3
    assert joint.level_channels == [256]
    assert [type(t.backbone).__name__ for t in joint.teachers] == [
        'ResNet', 'ResNetTSM', 'ResNetTSM']
    samples = action_samples([('activitynet', 199), ('ucf101', 100)])
    data = joint.data_preprocessor(
        dict(inputs=random_clips(2, size=SIZE), data_samples=samples), True)
    with torch.no_grad():
        out = joint(data['inputs'], mode='tensor')
        losses = joint(**data, mode='loss')
    assert tuple(out['features'][0].shape) == (16, 256, 2, 2)
    assert [tuple(x.shape) for x in out['logits']] == [(2, 200), (2, 51),
                                                       (2, 101)]
    assert set(losses) == {'loss_activitynet', 'loss_hmdb51', 'loss_ucf101'}
    assert losses['loss_hmdb51'] == 0  # no HMDB-51 clip in the batch
    assert torch.isfinite(losses['loss_ucf101'])


@pytest.mark.parametrize('name', list(NUM_CLASSES))
def test_action_student_config_and_random_clips(name, joint_checkpoint):
    cfg = _student_config(name)
    teacher_cfg = Config.fromfile(
        osp.join(REPO, f'configs/teachers/{TEACHERS[name]}.py'))
    # the student has its teacher's architecture and starts from the same
    # Kinetics-400 checkpoint, given by path
    assert osp.normpath(cfg.model.student) == osp.join(
        REPO, f'configs/teachers/{TEACHERS[name]}.py')
    assert cfg.model.student_init == teacher_cfg.load_from
    assert 'kinetics400' in cfg.model.student_init
    assert osp.normpath(cfg.model.teacher.config) == JOINT
    # 'auto': tools/train.py's run of the joint config
    assert cfg.model.teacher.checkpoint == 'auto'
    assert auto_checkpoint(cfg.model.teacher.config, 'joint') == \
        'work_dirs/joint_action/best.pth'
    assert cfg.model.dataset == name
    assert cfg.default_scope == 'mmaction'

    model = cfg.model.to_dict()
    model['teacher'] = dict(config=_joint_model_cfg(),
                            checkpoint=joint_checkpoint)
    model['student_init'] = None  # no Kinetics-400 file here
    torch.manual_seed(0)
    distiller = MODELS.build(model)
    distiller.init_weights()
    assert distiller.student.cls_head.num_classes == NUM_CLASSES[name]
    assert type(distiller.student.backbone).__name__ == type(
        distiller.teacher.teachers[list(NUM_CLASSES).index(name)]
        .backbone).__name__
    assert distiller.pairs == [(3, 0)]
    data = distiller.data_preprocessor(
        dict(inputs=random_clips(2, size=SIZE),
             data_samples=action_samples([(name, 3)] * 2)),
        True)
    distiller.train()
    losses = distiller(**data, mode='loss')
    assert {'loss_ce', 'loss_kd', 'loss_feature_s3_l1'} <= set(losses)
    assert all(torch.isfinite(v) for k, v in losses.items()
               if k.startswith('loss'))
    # the authors' weights for the paper's set
    assert distiller.loss_weights == dict(kd=0.6, feature=0.2, ce=0.2)


def test_student_starts_from_the_kinetics400_checkpoint(joint_checkpoint,
                                                        tmp_path):
    cfg = _student_config('hmdb51')
    # A stand-in for the user's Kinetics-400 TSM-R50: same architecture,
    # 400 classes.
    k400_cfg = Config.fromfile(
        osp.join(REPO, 'configs/teachers/video_tsm_r50_hmdb51.py')).model
    k400_cfg.cls_head.num_classes = 400
    torch.manual_seed(5)
    with DefaultScope.overwrite_default_scope('mmaction'):
        k400 = MODELS.build(k400_cfg)
    path = tmp_path / 'tsm_r50_kinetics400.pth'
    torch.save(dict(state_dict=k400.state_dict()), str(path))

    model = cfg.model.to_dict()
    model.update(teacher=dict(config=_joint_model_cfg(),
                              checkpoint=joint_checkpoint),
                 student_init=str(path))
    torch.manual_seed(0)
    distiller = MODELS.build(model)
    distiller.init_weights()
    own = distiller.student.state_dict()
    for key, value in k400.backbone.state_dict().items():
        assert torch.equal(own[f'backbone.{key}'], value), key
    # the 400-way classifier does not fit the 51 classes: left fresh
    assert own['cls_head.fc_cls.weight'].shape == (51, 2048)

    distiller.student_init = str(tmp_path / 'missing.pth')
    with pytest.raises(FileNotFoundError, match='student_init: .*missing'):
        distiller.init_weights()


def test_joint_action_datasets_build_from_the_expected_layout(
        tmp_path, monkeypatch):
    # The paper's data roots are data/<set> under the working directory.
    monkeypatch.chdir(tmp_path)
    classes = ['brush_hair', 'cartwheel', 'catch']
    fake_activitynet(classes)
    for name in ('hmdb51', 'ucf101'):
        fake_video_dataset(name, classes)
    cfg = complete_joint_loaders(Config.fromfile(JOINT))
    for split in ('train', 'val', 'test'):
        with DefaultScope.overwrite_default_scope('mmaction'):
            wrapper = DATASETS.build(cfg[f'{split}_dataloader'].dataset)
        assert wrapper.names == list(NUM_CLASSES)
        assert wrapper.dataset_sizes == [3, 3, 3]
        sample = wrapper[4]  # the second clip of HMDB-51
        assert tuple(sample['inputs'].shape) == (8, 3, 224, 224)
        assert sample['data_samples'].dataset_name == 'hmdb51'
        assert sample['data_samples'].gt_label.item() == 1
