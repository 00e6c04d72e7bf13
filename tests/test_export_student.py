"""mlfd_mm.apis.export (tools/export_student.py): the exported student loads
and predicts in stock mmpretrain, in a fresh process that never imports
mlfd_mm."""
import json
import os.path as osp

import mlfd_mm  # noqa: F401  (compat fixes before torchvision)
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from conftest import (PYTHON, REPO, distiller_config, make_image_folder,
                      make_joint_teacher, run_tool)
from mlfd_mm.apis.export import export_student

EXPORT_TOOL = osp.join(REPO, 'tools/export_student.py')

# Runs in a fresh interpreter. Only the torchvision environment fix is
# applied, from compat.py loaded as a standalone file: the exported files
# themselves must need nothing of mlfd_mm.
FRESH_PROCESS = r'''
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location(
    '_torchvision_fix_only', sys.argv[1])
fix = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fix)
fix.fix_torchvision_ops()

import torch
from mmengine.config import Config
from mmengine.runner import Runner
from mmpretrain.apis import ImageClassificationInferencer, get_model

cfg_path, ckpt_path, inputs_path, image, work_dir = sys.argv[2:7]
# a stock checkpoint: plain tensors and values only
torch.load(ckpt_path, map_location='cpu', weights_only=True)
model = get_model(cfg_path, pretrained=ckpt_path, device='cpu')
raw = torch.load(inputs_path, weights_only=True)
with torch.no_grad():
    data = model.data_preprocessor(dict(inputs=raw), False)
    logits = model(data['inputs'], mode='tensor')

inferencer = ImageClassificationInferencer(cfg_path, pretrained=ckpt_path,
                                           device='cpu')
result = inferencer(image)[0]

cfg = Config.fromfile(cfg_path)
cfg.work_dir = work_dir
cfg.load_from = ckpt_path
cfg.log_level = 'WARNING'
metrics = Runner.from_cfg(cfg).test()

print('RESULT' + json.dumps(dict(
    logits=logits.tolist(),
    out_indices=list(model.backbone.out_indices),
    pred_scores=[float(s) for s in result['pred_scores']],
    pred_label=int(result['pred_label']),
    metrics={k: float(v) for k, v in metrics.items()},
    mlfd_modules=sorted(m for m in sys.modules if m.startswith('mlfd_mm')))))
'''


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """A distiller trained one epoch by the Runner: its config file, best
    checkpoint, test accuracy, and the data it used."""
    root = tmp_path_factory.mktemp('export')
    teacher = make_joint_teacher(root)
    data_root = make_image_folder(root / 'data')
    cfg = Config(distiller_config(teacher, data_root, root / 'work',
                                  max_epochs=1))
    config_path = str(root / 'distiller.py')
    cfg.dump(config_path)
    runner = Runner.from_cfg(Config.fromfile(config_path))
    runner.train()
    metrics = runner.test()
    return dict(config=config_path, root=root, data_root=data_root,
                checkpoint=str(root / 'work' / 'epoch_1.pth'),
                model=runner.model, metrics=metrics, teacher=teacher)


@pytest.mark.slow
def test_exported_student_runs_in_stock_mmpretrain(trained, tmp_path):
    out_dir = tmp_path / 'exported'
    run_tool(PYTHON, EXPORT_TOOL, trained['config'], trained['checkpoint'],
             out_dir)
    cfg_path, ckpt_path = out_dir / 'student_config.py', out_dir / \
        'student.pth'
    text = cfg_path.read_text()
    assert 'mlfd_mm' not in text and 'custom_imports' not in text
    assert 'MLFDDistiller' not in text and 'JointTeacher' not in text

    exported = torch.load(str(ckpt_path), weights_only=True)
    model = trained['model'].eval()
    student_state = model.student.state_dict()
    assert sorted(exported['state_dict']) == sorted(student_state)
    for key, value in exported['state_dict'].items():
        assert torch.equal(value, student_state[key]), key
    assert list(exported['meta']['dataset_meta']['classes']) == [
        f'class{k}' for k in range(5)]

    torch.manual_seed(3)
    raw = torch.rand(3, 3, 32, 32) * 255
    torch.save(raw, str(tmp_path / 'inputs.pth'))
    image = osp.join(trained['data_root'], 'class2', '0.png')
    proc = run_tool(PYTHON, '-c', FRESH_PROCESS,
                    osp.join(REPO, 'mlfd_mm', 'compat.py'), cfg_path,
                    ckpt_path, tmp_path / 'inputs.pth', image,
                    tmp_path / 'fresh_work', env=dict(PYTHONPATH=''))
    line = [x for x in proc.stdout.splitlines() if x.startswith('RESULT')]
    result = json.loads(line[-1][len('RESULT'):])
    assert result['mlfd_modules'] == []
    assert result['out_indices'] == [3]  # the stock student's own

    with torch.no_grad():
        expected = model(raw, mode='tensor')
    assert torch.allclose(torch.tensor(result['logits']), expected,
                          atol=1e-5)

    # the inferencer's prediction on a file equals the distiller's
    data = model.data_preprocessor(
        dict(inputs=[_load_for_test(image)], data_samples=None), False)
    with torch.no_grad():
        scores = model(data['inputs'], mode='tensor').softmax(-1)[0]
    assert torch.allclose(torch.tensor(result['pred_scores']), scores,
                          atol=1e-5)
    assert result['pred_label'] == int(scores.argmax())

    # the stock Runner on the exported files reports the distiller's
    # accuracy on the same test split
    assert result['metrics']['accuracy/top1'] == pytest.approx(
        trained['metrics']['accuracy/top1'])


def _load_for_test(path):
    """The image as the distiller's test pipeline loads it (BGR uint8,
    CHW)."""
    import cv2
    image = cv2.imread(path)
    return torch.from_numpy(image).permute(2, 0, 1).contiguous()


def test_exported_config_keeps_preprocessing_and_eval_sections(trained,
                                                               tmp_path):
    _, cfg_path = export_student(trained['config'],
                                        trained['checkpoint'],
                                        str(tmp_path / 'out'))
    cfg = Config.fromfile(cfg_path)
    assert cfg.default_scope == 'mmpretrain'
    assert cfg.model.type == 'ImageClassifier'
    assert tuple(cfg.model.backbone.out_indices) == (3, )
    for preprocessor in (cfg.data_preprocessor, cfg.model.data_preprocessor):
        assert preprocessor.mean == [120., 110., 100.]
        assert preprocessor.std == [60., 61., 62.]
        assert preprocessor.to_rgb is True
    assert cfg.test_dataloader.dataset.type == 'CustomDataset'
    assert cfg.test_evaluator.type == 'Accuracy'
    assert 'custom_hooks' not in cfg and 'custom_imports' not in cfg


def test_checkpoint_without_student_is_refused(trained, tmp_path):
    teacher_ckpt = trained['teacher']['config']['teachers'][0]['checkpoint']
    with pytest.raises(ValueError) as err:
        export_student(trained['config'], teacher_ckpt,
                              str(tmp_path / 'out'))
    assert 'holds no student' in str(err.value)
    assert teacher_ckpt in str(err.value)
    assert "['backbone', 'head']" in str(err.value)
    # a joint-teacher checkpoint neither
    with pytest.raises(ValueError, match='holds no student'):
        export_student(trained['config'],
                              trained['teacher']['checkpoint'],
                              str(tmp_path / 'out'))
    assert not osp.exists(str(tmp_path / 'out' / 'student.pth'))


def test_config_without_student_is_refused(trained, tmp_path):
    cfg = Config.fromfile(trained['config'])
    cfg.model = dict(type='ImageClassifier', backbone=dict(type='ResNet'))
    with pytest.raises(ValueError, match='not a distiller'):
        export_student(cfg, trained['checkpoint'],
                              str(tmp_path / 'out'))


def test_student_that_does_not_match_its_config_is_refused(trained,
                                                           tmp_path):
    """A student weight of another shape is named, with both shapes."""
    loaded = torch.load(trained['checkpoint'], map_location='cpu',
                        weights_only=False)
    key = next(k for k in loaded['state_dict']
               if k.startswith('student.') and k.endswith('conv1.weight'))
    loaded['state_dict'][key] = loaded['state_dict'][key][:1]
    broken = str(tmp_path / 'broken.pth')
    torch.save(loaded, broken)
    with pytest.raises(ValueError, match='shape mismatch') as err:
        export_student(trained['config'], broken, str(tmp_path / 'out'))
    assert key[len('student.'):] in str(err.value)
    assert not osp.exists(str(tmp_path / 'out' / 'student.pth'))


@pytest.mark.slow
def test_mmpretrain_analysis_tool_runs_on_an_export(trained, tmp_path):
    """mmpretrain's own confusion_matrix.py (shipped in the package) works
    on an exported student, through tools/mmpretrain_tool.py; its counts
    add up to the test split and its diagonal is the student's accuracy."""
    _, cfg_path = export_student(trained['config'], trained['checkpoint'],
                                 str(tmp_path / 'out'))
    # vis_tsne.py reads log_level: the training config's is kept
    assert Config.fromfile(cfg_path).log_level == Config.fromfile(
        trained['config']).get('log_level', 'INFO')
    matrix_file = tmp_path / 'cm.pkl'
    run_tool(PYTHON, osp.join(REPO, 'tools', 'mmpretrain_tool.py'),
             'analysis_tools/confusion_matrix.py', cfg_path,
             str(tmp_path / 'out' / 'student.pth'), '--out', matrix_file)
    import pickle
    with open(matrix_file, 'rb') as f:
        matrix = torch.as_tensor(pickle.load(f))
    assert matrix.shape == (5, 5)
    accuracy = float(matrix.diag().sum() / matrix.sum() * 100)
    assert accuracy == pytest.approx(trained['metrics']['accuracy/top1'],
                                     abs=1e-4)


def test_mmpretrain_tool_names_an_unknown_tool():
    proc = run_tool(PYTHON, osp.join(REPO, 'tools', 'mmpretrain_tool.py'),
                    'analysis_tools/no_such_tool.py', check=False)
    assert proc.returncode != 0
    assert "'analysis_tools/no_such_tool.py' is not a tool" in proc.stderr


def test_loader_collation_of_ours_is_exported_as_mmengines():
    """stack_collate is a speed-up of this package: the exported (stock)
    config keeps its loaders with mmengine's pseudo_collate instead of
    dropping them."""
    from mlfd_mm.apis.export import build_export_config
    student = dict(type='ImageClassifier', _scope_='mmpretrain',
                   backbone=dict(type='ResNet_CIFAR', depth=18),
                   neck=dict(type='GlobalAveragePooling'),
                   head=dict(type='LinearClsHead', num_classes=10,
                             in_channels=512))
    loader = dict(batch_size=4, collate_fn=dict(type='stack_collate'),
                  dataset=dict(type='CustomDataset', data_root='d',
                               pipeline=[dict(type='PackInputs')]))
    cfg = Config(dict(
        default_scope='mmpretrain',
        model=dict(type='MLFDDistiller', student=student),
        data_preprocessor=dict(type='ClsDataPreprocessor', mean=[0.] * 3,
                               std=[1.] * 3),
        test_dataloader=loader,
        val_dataloader=dict(loader, collate_fn=dict(
            type='stack_collate_list'))))
    exported, skipped = build_export_config(cfg)
    assert skipped == []
    for key in ('test_dataloader', 'val_dataloader'):
        assert exported[key]['collate_fn'] == dict(type='pseudo_collate')
        assert exported[key]['dataset']['type'] == 'CustomDataset'


def test_cached_student_loaders_are_exported_with_the_wrapped_dataset():
    """A student trained from the joint-output cache (configs/mlfd/
    student_offline_*_cached.py) reads its data through
    CachedFeatureDataset; its export tests on the wrapped stock dataset
    instead of losing its test loader (the report's student embeddings of
    configs/pipelines/offline_cached.py failed on a missing
    test_dataloader)."""
    from mlfd_mm.apis.export import build_export_config
    from mlfd_mm.config import complete_config
    # completed, as the run dumps it (the file names only the cache; its
    # cache holds val and test too, so those loaders read it)
    cfg = Config.fromfile(osp.join(
        REPO, 'configs', 'mlfd', 'student_offline_fashion_cached.py'))
    cfg.merge_from_dict(
        {'model.joint_output_cache.splits': ['train', 'val', 'test']})
    cfg = complete_config(cfg, 'none')
    assert cfg.test_dataloader.dataset.type == 'CachedFeatureDataset'
    inner = cfg.test_dataloader.dataset.dataset.to_dict()
    exported, skipped = build_export_config(cfg)
    assert not [key for key in skipped if 'dataloader' in key]
    assert exported['test_dataloader']['dataset'] == inner
    assert exported['val_dataloader']['dataset']['type'] == inner['type']
    for key in ('test_dataloader', 'val_dataloader'):
        assert exported[key]['collate_fn'] == dict(type='pseudo_collate')
