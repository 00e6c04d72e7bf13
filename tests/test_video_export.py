"""tools/export_student.py (mlfd_mm.apis.export) on video students: the
exported TSM and TSN students load and predict in stock mmaction2
(init_recognizer + inference_recognizer, and the stock Runner's test) in a
fresh process that never imports mlfd_mm."""
import json
import os.path as osp

import mlfd_mm  # noqa: F401  (compat fixes before torchvision)
import pytest
import torch
from conftest import PYTHON, REPO, run_tool
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import DATASETS, MODELS, DefaultScope
from mmengine.runner import Runner
from video_fakes import (joint_model_random_teachers, tiny_run,
                         write_fake_motion_source)

from mlfd_mm.datasets.offline_video import build_offline_video_dataset

EXPORT_TOOL = osp.join(REPO, 'tools/export_student.py')
JOINT = osp.join(REPO, 'configs/mlfd/joint_offline_video.py')

# A fresh interpreter. Only the environment fixes that stock mmaction2 needs
# on this torch (torchvision's operator schemas, the DRN module missing from
# the mmaction2 wheel) are applied, from compat.py loaded as a standalone
# file: the exported files themselves need nothing of mlfd_mm.
FRESH_PROCESS = r'''
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location('_env_fixes_only', sys.argv[1])
fix = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fix)
fix.fix_torchvision_ops()
fix.fix_mmaction_drn()

import torch
from mmaction.apis import inference_recognizer, init_recognizer
from mmengine.config import Config
from mmengine.runner import Runner

out = {}
for name, cfg_path, ckpt_path, video, work_dir in json.loads(sys.argv[2]):
    # a stock checkpoint: plain tensors and values only
    torch.load(ckpt_path, map_location='cpu', weights_only=True)
    model = init_recognizer(cfg_path, ckpt_path, device='cpu')
    result = inference_recognizer(model, video)
    cfg = Config.fromfile(cfg_path)
    cfg.work_dir = work_dir
    cfg.load_from = ckpt_path
    cfg.log_level = 'WARNING'
    metrics = Runner.from_cfg(cfg).test()
    out[name] = dict(
        pred_scores=result.pred_score.tolist(),
        pred_label=int(result.pred_label),
        backbone=type(model.backbone).__name__,
        metrics={k: float(v) for k, v in metrics.items()})
out['mlfd_modules'] = sorted(m for m in sys.modules
                             if m.startswith('mlfd_mm'))
print('RESULT' + json.dumps(out))
'''


# The configs name each other by paths relative to the repo root.


@pytest.fixture(scope='module')
def video_root(tmp_path_factory):
    image_root = str(tmp_path_factory.mktemp('images'))
    for source in ('mnist', 'fashion'):
        write_fake_motion_source(image_root, source)
    root = str(tmp_path_factory.mktemp('video'))
    for name in ('direction', 'objmotion'):
        build_offline_video_dataset(
            name, root=root, image_root=image_root,
            clips_per_class=dict(train=2, val=1, test=1))
    return root


@pytest.fixture(scope='module')
def joint_checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    joint = MODELS.build(joint_model_random_teachers(JOINT))
    joint.init_weights()
    path = tmp_path_factory.mktemp('joint') / 'joint.pth'
    torch.save(dict(state_dict=joint.state_dict(), meta={}), str(path))
    return str(path)


def _student_cfg(name, video_root, joint_checkpoint, work_dir):
    cfg = Config.fromfile(
        osp.join(REPO, f'configs/mlfd/student_offline_video_{name}.py'))
    cfg.model.teacher = dict(config=joint_model_random_teachers(JOINT),
                             checkpoint=joint_checkpoint)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = osp.join(video_root, name)
    return tiny_run(cfg, work_dir)


@pytest.fixture(scope='module')
def students(video_root, joint_checkpoint, tmp_path_factory):
    """The TSM 'direction' student trained one epoch by the Runner, and the
    TSN 'objmotion' student as built (random weights): config file,
    checkpoint, model and test metrics."""
    root = tmp_path_factory.mktemp('students')
    out = {}
    cfg = _student_cfg('direction', video_root, joint_checkpoint,
                       root / 'direction')
    path = str(root / 'direction.py')
    cfg.dump(path)
    runner = Runner.from_cfg(Config.fromfile(path))
    runner.train()
    out['direction'] = dict(
        config=path, checkpoint=str(root / 'direction' / 'epoch_1.pth'),
        model=runner.model.eval(), metrics=runner.test())

    cfg = _student_cfg('objmotion', video_root, joint_checkpoint,
                       root / 'objmotion')
    path = str(root / 'objmotion.py')
    cfg.dump(path)
    torch.manual_seed(2)
    model = MODELS.build(cfg.model)
    model.init_weights()
    checkpoint = str(root / 'objmotion.pth')
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(dataset_meta=dict(classes=list('abcdefghij')))),
               checkpoint)
    out['objmotion'] = dict(config=path, checkpoint=checkpoint,
                            model=model.eval())
    return out


def _distiller_scores(model, config, video):
    """The distiller's scores on ``video`` through its own test pipeline."""
    cfg = Config.fromfile(config)
    with DefaultScope.overwrite_default_scope('mmaction'):
        dataset = DATASETS.build(cfg.test_dataloader.dataset)
    index = [info['filename'] for info in dataset.load_data_list()
             ].index(video)
    data = model.data_preprocessor(pseudo_collate([dataset[index]]), False)
    with torch.no_grad():
        return model(**data, mode='predict')[0].pred_score


@pytest.mark.slow
def test_exported_video_students_run_in_stock_mmaction2(students, video_root,
                                                        tmp_path):
    jobs, exported = [], {}
    for name, trained in students.items():
        out_dir = tmp_path / name
        run_tool(PYTHON, EXPORT_TOOL, trained['config'],
                 trained['checkpoint'], out_dir)
        cfg_path, ckpt_path = out_dir / 'student_config.py', \
            out_dir / 'student.pth'
        text = cfg_path.read_text()
        for ours in ('mlfd_mm', 'custom_imports', 'MLFDDistiller',
                     'JointTeacher', 'CheckedVideoDataset', 'AccMAPMetric',
                     'on_corrupt'):
            assert ours not in text, (name, ours)
        cfg = Config.fromfile(str(cfg_path))
        assert cfg.default_scope == 'mmaction'
        assert cfg.model.type == 'Recognizer2D'
        assert tuple(cfg.model.backbone.out_indices) == (3, )
        assert cfg.model.data_preprocessor.format_shape == 'NCHW'
        assert cfg.model.data_preprocessor.mean == [123.675, 116.28, 103.53]
        assert cfg.test_dataloader.dataset.type == 'VideoDataset'
        assert cfg.test_evaluator.type == 'AccMetric'
        assert 'mean_average_precision' not in cfg.test_evaluator.metric_list
        state = torch.load(str(ckpt_path), weights_only=True)['state_dict']
        own = trained['model'].student.state_dict()
        assert sorted(state) == sorted(own)
        assert all(torch.equal(state[k], own[k]) for k in own)
        video = osp.join(video_root, name, 'videos', 'test', '00003.mp4')
        jobs.append([name, str(cfg_path), str(ckpt_path), video,
                     str(tmp_path / f'fresh_{name}')])
        exported[name] = video

    proc = run_tool(PYTHON, '-c', FRESH_PROCESS,
                    osp.join(REPO, 'mlfd_mm', 'compat.py'), json.dumps(jobs),
                    env=dict(PYTHONPATH=''), timeout=240)
    line = [x for x in proc.stdout.splitlines() if x.startswith('RESULT')]
    result = json.loads(line[-1][len('RESULT'):])
    assert result['mlfd_modules'] == []
    assert result['direction']['backbone'] == 'ResNetTSM'
    assert result['objmotion']['backbone'] == 'ResNet'  # mmpretrain's

    for name, trained in students.items():
        expected = _distiller_scores(trained['model'], trained['config'],
                                     exported[name])
        scores = torch.tensor(result[name]['pred_scores'])
        assert scores.shape == expected.shape
        assert torch.allclose(scores, expected, atol=1e-5), name
        assert result[name]['pred_label'] == int(expected.argmax())
        assert set(result[name]['metrics']) == {'acc/top1', 'acc/top5',
                                                'acc/mean1'}
    # the stock Runner reports the distiller's accuracy on the same split
    assert result['direction']['metrics']['acc/top1'] == pytest.approx(
        students['direction']['metrics']['acc/top1'])
