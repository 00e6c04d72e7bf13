"""MLFD on video through the same JointTeacher / MultiDatasetWrapper /
MLFDDistiller as images: the offline video joint teacher and students built
from their configs, run on random clips, and trained for a few steps by
mmengine's Runner on tiny decoded mp4 data sets."""
import copy
import os.path as osp

import mlfd_mm  # noqa: F401  (compat fixes before torchvision)
import pytest
import torch
from conftest import REPO
from mmengine.config import Config
from mmengine.registry import MODELS
from mmengine.runner import Runner
from video_fakes import (action_samples, joint_model_random_teachers,
                         random_clips, tiny_run, write_fake_motion_source)

from mlfd_mm.datasets.offline_video import (OFFLINE_VIDEO_DATASETS,
                                            build_offline_video_dataset)
from mlfd_mm.config import complete_joint_loaders
from mlfd_mm.models import JointTeacher, MLFDDistiller

JOINT = osp.join(REPO, 'configs/mlfd/joint_offline_video.py')
STUDENTS = {name: osp.join(REPO, f'configs/mlfd/student_offline_video_{name}'
                           '.py') for name in OFFLINE_VIDEO_DATASETS}
NUM_CLASSES = dict(direction=8, motion=6, objmotion=10)
NAMES = ['direction', 'motion', 'objmotion']


def _joint_model_cfg():
    """The joint config's model, its teachers with random weights."""
    return joint_model_random_teachers(JOINT)


@pytest.fixture(scope='module')
def joint():
    torch.manual_seed(0)
    model = MODELS.build(_joint_model_cfg())
    model.init_weights()
    return model


@pytest.fixture(scope='module')
def joint_checkpoint(joint, tmp_path_factory):
    path = tmp_path_factory.mktemp('joint') / 'joint.pth'
    torch.save(dict(state_dict=joint.state_dict(), meta={}), str(path))
    return str(path)


def test_joint_video_teacher_from_its_config(joint):
    assert isinstance(joint, JointTeacher)
    assert joint.dataset_names == NAMES
    assert joint.num_classes == [8, 6, 10]
    assert joint.num_segments == 8
    # L1: the deepest stage of each teacher (1x1 at 32 px)
    assert [t.levels for t in joint.teachers] == [[3], [3], [3]]
    assert [t.out_channels for t in joint.teachers] == [[512], [512], [256]]
    assert [t.num_segments for t in joint.teachers] == [8, 8, 8]
    assert [t.scope for t in joint.teachers] == ['mmaction'] * 3


def test_joint_video_teacher_loss_predict_and_consensus(joint):
    joint.train()
    samples = action_samples([('direction', 7), ('motion', 5), ('objmotion', 9),
                        ('motion', 0)])
    data = joint.data_preprocessor(
        dict(inputs=random_clips(4), data_samples=samples), True)
    # raw pixels, clips stacked: (B, S, 3, H, W), nothing normalised
    assert data['inputs'].shape == (4, 8, 3, 32, 32)
    assert data['inputs'].max() > 200
    losses = joint(**data, mode='loss')
    assert set(losses) == {f'loss_{n}' for n in NAMES}
    assert all(torch.isfinite(v) and v > 0 for v in losses.values())

    joint.eval()
    with torch.no_grad():
        out = joint(data['inputs'], mode='tensor')
        # every frame fused on its own: (B*S, C, 1, 1)
        assert tuple(out['features'][-1].shape) == (32, 128, 1, 1)
        assert [tuple(x.shape) for x in out['logits']] == [(4, 8), (4, 6),
                                                           (4, 10)]
        per_frame = joint.head.fcs[1](out['features'][-1].flatten(1))
        torch.testing.assert_close(out['logits'][1],
                                   per_frame.view(4, 8, 6).mean(1))
        predictions = joint(data['inputs'], copy.deepcopy(samples),
                            mode='predict')
    assert [len(p.pred_score) for p in predictions] == [8, 6, 10, 6]
    assert [p.dataset_name for p in predictions] == [
        'direction', 'motion', 'objmotion', 'motion']
    torch.testing.assert_close(predictions[3].pred_score,
                               out['logits'][1][3].softmax(-1))


def test_joint_video_teacher_refuses_clips_of_other_lengths(joint):
    inputs = torch.stack(random_clips(2, frames=4)).float()
    with pytest.raises(ValueError, match=r"teacher 'direction' expects "
                       r'clips of 8 segments but got 4'):
        joint(inputs, mode='tensor')


def _student(name, joint_checkpoint):
    cfg = Config.fromfile(STUDENTS[name])
    model = cfg.model.to_dict()
    model['teacher'] = dict(config=_joint_model_cfg(),
                            checkpoint=joint_checkpoint)
    torch.manual_seed(1)
    distiller = MODELS.build(model)
    distiller.init_weights()
    return distiller


@pytest.mark.parametrize('name', NAMES)
def test_video_student_losses_and_gradients(name, joint, joint_checkpoint):
    distiller = _student(name, joint_checkpoint)
    assert isinstance(distiller, MLFDDistiller)
    assert distiller.dataset_name == name
    assert distiller.pairs == [(3, 0)]
    # the joint teacher is the trained one, frozen
    loaded = distiller.teacher.state_dict()
    for key, value in joint.state_dict().items():
        assert torch.equal(loaded[key], value), key
    student_type = 'ResNetTSM' if name != 'objmotion' else 'ResNet'
    assert type(distiller.student.backbone).__name__ == student_type
    assert distiller.student.cls_head.num_classes == NUM_CLASSES[name]

    samples = action_samples([(name, 1), (name, 3)])
    data = distiller.data_preprocessor(
        dict(inputs=random_clips(2, seed=3), data_samples=samples), True)
    assert data['inputs'].shape == (2, 8, 3, 32, 32)
    distiller.train()
    losses = distiller(**data, mode='loss')
    assert {'loss_ce', 'loss_kd', 'loss_feature_s3_l1'} <= set(losses)
    total = sum(v for k, v in losses.items() if k.startswith('loss'))
    assert torch.isfinite(total)
    total.backward()
    first_conv = next(p for n, p in
                      distiller.student.backbone.named_parameters()
                      if n.startswith('conv1'))
    assert first_conv.grad is not None and first_conv.grad.abs().sum() > 0
    assert any(p.grad is not None for p in distiller.connectors.parameters())
    assert all(p.grad is None for p in distiller.teacher.parameters())

    # KD targets: the joint head of the student's own dataset, per clip
    with torch.no_grad():
        teacher = distiller.teacher(data['inputs'], mode='tensor')
    assert tuple(teacher['logits'][distiller.dataset_index].shape) == (
        2, NUM_CLASSES[name])


# ------------------------------------------------ Runner on decoded clips
@pytest.fixture(scope='module')
def video_root(tmp_path_factory):
    image_root = str(tmp_path_factory.mktemp('images'))
    for spec in OFFLINE_VIDEO_DATASETS.values():
        write_fake_motion_source(image_root, spec['source'])
    root = str(tmp_path_factory.mktemp('video'))
    for name in OFFLINE_VIDEO_DATASETS:
        build_offline_video_dataset(
            name, root=root, image_root=image_root,
            clips_per_class=dict(train=2, val=1, test=1))
    return root


def test_joint_video_teacher_trains_and_reports_map(video_root, tmp_path):
    cfg = complete_joint_loaders(Config.fromfile(JOINT))
    cfg.model = _joint_model_cfg()
    for split in ('train', 'val', 'test'):
        for entry in cfg[f'{split}_dataloader'].dataset.datasets:
            name = osp.basename(entry.config)[:-3].rsplit('_', 1)[1]
            entry.data_root = osp.join(video_root, name)
    runner = Runner.from_cfg(tiny_run(cfg, tmp_path))
    runner.train()
    metrics = runner.test()
    for name in NAMES:
        for key in ('accuracy_top1', 'mAP'):
            assert 0 <= metrics[f'{name}/{key}'] <= 100, (name, key)
    assert metrics['mean/mAP'] == pytest.approx(
        sum(metrics[f'{n}/mAP'] for n in NAMES) / 3)
    # objmotion (10 classes) has acc@5, the others too (>= 5 classes)
    assert 'objmotion/accuracy_top5' in metrics


def test_video_student_trains_and_reports_map(video_root, tmp_path,
                                              joint_checkpoint):
    cfg = Config.fromfile(STUDENTS['motion'])
    cfg.model.teacher = dict(config=_joint_model_cfg(),
                             checkpoint=joint_checkpoint)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = osp.join(video_root, 'motion')
    runner = Runner.from_cfg(tiny_run(cfg, tmp_path))
    runner.train()
    metrics = runner.test()
    # mmaction2's keys: fractions
    for key in ('acc/top1', 'acc/top5', 'acc/mean_average_precision'):
        assert 0 <= metrics[key] <= 1, key
    # the joint teacher's accuracy on the same split, logged by its hook
    teacher_top1 = runner.message_hub.get_scalar(
        'test/joint_teacher/accuracy_top1').current()
    assert 0 <= teacher_top1 <= 100
