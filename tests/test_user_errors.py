"""A user's mistakes that used to give a silent wrong answer (or an error
naming nothing) are refused before any work starts, naming the culprit:
a checkpoint of another model, a student's wrong ``dataset``, bad
annotation files, mixed input sizes, a ``topk`` above a class count, and
``--cfg-options`` keys that match nothing."""
import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope

from conftest import PYTHON, REPO, run_tool, write_image_folder

from mlfd_mm.apis.runner import load_config, prepare_run
from mlfd_mm.checks.checkpoint_fit import (CheckpointMismatchError,
                                           check_checkpoint_fits)

TEACHERS = osp.join(REPO, 'configs/teachers')
RESNET = osp.join(TEACHERS, 'offline_mnist_resnet18.py')
TINYNET = osp.join(TEACHERS, 'offline_fashion_tinynet.py')
STUDENT = osp.join(REPO, 'configs/mlfd/student_offline_mnist.py')
JOINT = osp.join(REPO, 'configs/mlfd/joint_offline.py')
SPLITS = ('train', 'val', 'test')


def _roots(data_root, name='mnist'):
    return {f'{s}_dataloader.dataset.data_root': osp.join(data_root, name)
            for s in SPLITS}


def _build(config):
    cfg = Config.fromfile(config)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(cfg.model)


def _save(model, path, **extra):
    torch.save(dict(state_dict=model.state_dict(), meta={}, **extra),
               str(path))
    return str(path)


# ---------------------------------------------------------------------------
# 1. a checkpoint of another architecture or stage
# ---------------------------------------------------------------------------
def test_checkpoint_of_another_architecture_is_refused(tmp_path):
    resnet = _build(RESNET)
    path = _save(_build(TINYNET), tmp_path / 'tinynet.pth')
    with pytest.raises(CheckpointMismatchError) as err:
        check_checkpoint_fits(resnet, path, 'checkpoint', RESNET)
    message = str(err.value)
    assert path in message and RESNET in message
    assert 'missing (' in message and 'unexpected (' in message
    assert 'stage-1 teacher' in message  # what the checkpoint looks like


@pytest.mark.parametrize('prefix,kind', [('student.', 'a distiller run'),
                                         ('teachers.0.', 'a joint teacher')])
def test_checkpoint_of_another_stage_is_named(tmp_path, prefix, kind):
    resnet = _build(RESNET)
    state = {prefix + k: v for k, v in resnet.state_dict().items()}
    path = tmp_path / 'other_stage.pth'
    torch.save(dict(state_dict=state, meta={}), str(path))
    with pytest.raises(CheckpointMismatchError, match=kind):
        check_checkpoint_fits(resnet, str(path), '--resume checkpoint')


def test_teacher_checkpoint_on_the_joint_config_is_refused(tmp_path):
    cfg = load_config(JOINT, missing_checkpoints='none')
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        joint = MODELS.build(cfg.model)
    path = _save(_build(RESNET), tmp_path / 'teacher.pth')
    with pytest.raises(CheckpointMismatchError) as err:
        check_checkpoint_fits(joint, path, 'checkpoint', JOINT)
    message = str(err.value)
    assert 'missing (' in message and 'teachers.0.backbone' in message
    assert 'JointTeacher' in message and 'stage-1 teacher' in message


def test_mis_shaped_keys_are_named(tmp_path):
    resnet = _build(RESNET)
    cfg = Config.fromfile(RESNET)
    cfg.model.head.num_classes = 12
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        other = MODELS.build(cfg.model)
    path = _save(other, tmp_path / 'twelve.pth')
    with pytest.raises(CheckpointMismatchError,
                       match=r'shape mismatch \(2\): head\.fc\.weight'):
        check_checkpoint_fits(resnet, path, 'checkpoint')
    # fine-tuning (load_from without resume) only warns about the head
    check_checkpoint_fits(resnet, path, 'load_from checkpoint', strict=False)


def test_a_fitting_checkpoint_and_an_export_pass(tmp_path):
    resnet = _build(RESNET)
    check_checkpoint_fits(resnet, _save(resnet, tmp_path / 'a.pth'), 'x')
    export = _save(resnet, tmp_path / 'student.pth')
    check_checkpoint_fits(resnet, export, 'checkpoint')


@pytest.mark.slow
def test_test_tool_refuses_a_checkpoint_of_another_model(tmp_path,
                                                         tiny_offline_root):
    path = _save(_build(TINYNET), tmp_path / 'tinynet.pth')
    options = [f'{k}={v}' for k, v in _roots(tiny_offline_root).items()]
    proc = run_tool(PYTHON, 'tools/test.py', RESNET, path, '--work-dir',
                    tmp_path / 'w', '--cfg-options', *options, check=False)
    assert proc.returncode != 0
    assert 'CheckpointMismatchError' in proc.stderr
    assert path in proc.stderr and 'missing (' in proc.stderr
    assert 'acc@1' not in proc.stdout


@pytest.mark.slow
def test_train_resume_refuses_a_checkpoint_of_another_model(
        tmp_path, tiny_offline_root):
    path = _save(_build(TINYNET), tmp_path / 'tinynet.pth')
    options = [f'{k}={v}' for k, v in _roots(tiny_offline_root).items()]
    proc = run_tool(PYTHON, 'tools/train.py', RESNET, '--resume', path,
                    '--work-dir', tmp_path / 'w', '--cfg-options', *options,
                    check=False)
    assert proc.returncode != 0
    assert '--resume checkpoint' in proc.stderr and path in proc.stderr
    assert not list((tmp_path / 'w').glob('epoch_*.pth'))


# ---------------------------------------------------------------------------
# 2. a student whose dataset disagrees with its data
# ---------------------------------------------------------------------------
def test_student_with_the_wrong_dataset_is_refused(tiny_offline_root):
    options = dict(_roots(tiny_offline_root), **{'model.dataset': 'animals'})
    cfg = load_config(STUDENT, options, missing_checkpoints='none')
    with pytest.raises(ValueError) as err:
        prepare_run(cfg, ['train_dataloader'])
    message = str(err.value)
    assert "model.dataset = 'animals'" in message
    assert 'offline_animals_seresnext.py' in message
    assert "did you mean dataset='mnist'" in message


def test_student_with_its_own_dataset_passes(tiny_offline_root):
    for dataset in ('mnist', 0):
        options = dict(_roots(tiny_offline_root), **{'model.dataset': dataset})
        cfg = load_config(STUDENT, options, missing_checkpoints='none')
        prepare_run(cfg, ['train_dataloader', 'val_dataloader'])


# ---------------------------------------------------------------------------
# 3. annotation files
# ---------------------------------------------------------------------------
def _data_copy(tmp_path, tiny_offline_root, edit):
    """A data root whose images are those of tiny mnist and whose
    annotation file of ``edit`` = (split, text transform) is changed."""
    root = tmp_path / 'data'
    (root / 'meta').mkdir(parents=True)
    os.symlink(osp.join(tiny_offline_root, 'mnist', 'images'),
               root / 'images')
    split, change = edit
    for s in SPLITS:
        with open(osp.join(tiny_offline_root, 'mnist', 'meta', f'{s}.txt')) \
                as f:
            text = f.read()
        (root / 'meta' / f'{s}.txt').write_text(
            change(text) if s == split else text)
    return str(root)


def _replace_label(line_no, label):
    def change(text):
        lines = text.splitlines()
        lines[line_no - 1] = lines[line_no - 1].rsplit(' ', 1)[0] + \
            f' {label}'
        return '\n'.join(lines) + '\n'
    return change


@pytest.mark.parametrize('split,change,expected', [
    ('val', _replace_label(3, 12), r'outside \[0, 10\).*line 3: 12'),
    ('train', _replace_label(7, -1), 'line 7: -1'),
    ('test', lambda text: '', 'is empty'),
    ('train', lambda text: text.replace('\n', '\n\n', 1), 'line 2: blank'),
    ('val', _replace_label(4, 'x'), "line 4: label 'x' is not an integer"),
])
def test_bad_annotation_files_are_named(tmp_path, tiny_offline_root, split,
                                        change, expected):
    root = _data_copy(tmp_path, tiny_offline_root, (split, change))
    options = {f'{s}_dataloader.dataset.data_root': root for s in SPLITS}
    cfg = load_config(RESNET, options)
    with pytest.raises(ValueError, match=expected) as err:
        prepare_run(cfg, [f'{s}_dataloader' for s in SPLITS])
    assert osp.join(root, 'meta', f'{split}.txt') in str(err.value)


# ---------------------------------------------------------------------------
# 4. datasets of different input sizes in one loader
# ---------------------------------------------------------------------------
def _joint_with_sizes(tiny_offline_root, sizes):
    """The offline joint config whose test sets are resized to ``sizes``
    (None: left as they are, 32 px)."""
    cfg = load_config(JOINT, missing_checkpoints='none')
    names = cfg.test_dataloader.dataset.names
    entries = []
    for name, entry, size in zip(names, cfg.test_dataloader.dataset.datasets,
                                 sizes):
        entry = dict(entry, data_root=osp.join(tiny_offline_root, name))
        if size:
            entry['pipeline'] = [dict(type='LoadImageFromFile'),
                                 dict(type='Resize', scale=(size, size)),
                                 dict(type='PackInputs')]
        entries.append(entry)
    cfg.test_dataloader.dataset.datasets = entries
    return cfg


def test_mixed_input_sizes_are_refused(tiny_offline_root):
    cfg = _joint_with_sizes(tiny_offline_root, (None, 64, None))
    with pytest.raises(ValueError) as err:
        prepare_run(cfg, ['test_dataloader'])
    message = str(err.value)
    assert "('fashion'): 64x64 (Resize scale)" in message
    assert "('mnist'): 32x32 (image " in message
    assert 'zero-pad' in message


def test_one_input_size_passes(tiny_offline_root):
    prepare_run(_joint_with_sizes(tiny_offline_root, (None, None, None)),
                ['test_dataloader'])
    prepare_run(_joint_with_sizes(tiny_offline_root, (64, 64, 64)),
                ['test_dataloader'])


# ---------------------------------------------------------------------------
# 5. topk above a dataset's class count
# ---------------------------------------------------------------------------
def test_topk_above_the_class_count_is_refused_before_training(tmp_path):
    root = write_image_folder(tmp_path / 'four', 4, 2, seed=0)
    options = {f'{s}_dataloader.dataset.{k}': v for s in SPLITS
               for k, v in (('data_root', root), ('ann_file', ''),
                            ('metainfo', dict(classes=list('abcd'))))}
    cfg = load_config(RESNET, options)
    with pytest.raises(ValueError) as err:
        prepare_run(cfg, ['train_dataloader', 'val_dataloader'])
    message = str(err.value)
    assert 'val_evaluator.topk = (1, 5)' in message
    assert 'val_dataloader.dataset' in message and root in message
    assert 'only 4 classes' in message


# ---------------------------------------------------------------------------
# 6. --cfg-options keys that match nothing
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('key,culprit,nearest', [
    ('trian_cfg.max_epochs', "no key 'trian_cfg'", "'train_cfg'"),
    ('train_cfg.max_epoch', "train_cfg has no key 'max_epoch'",
     "'max_epochs'"),
    ('model.bakbone.depth', "model has no key 'bakbone'", "'backbone'"),
])
def test_unknown_cfg_options_are_refused(key, culprit, nearest):
    with pytest.raises(KeyError) as err:
        load_config(RESNET, {key: 1})
    message = str(err.value)
    assert f"'{key}'" in message and culprit in message
    assert f'the nearest existing key is {nearest}' in message
    assert 'Rule:' in message


def test_legitimate_cfg_options_still_merge(tmp_path):
    options = {
        'train_cfg.max_epochs': 1, 'pipeline_dir': str(tmp_path),
        'randomness.seed': 3, 'train_dataloader.batch_size': 8,
        'train_dataloader.dataset.indices': 10, 'load_from': None,
        'optim_wrapper.clip_grad': dict(max_norm=1.0),
        'model.teachers.0.checkpoint': 'x.pth',
    }
    cfg = load_config(JOINT, options, missing_checkpoints='none')
    assert cfg.train_cfg.max_epochs == 1 and cfg.randomness.seed == 3
    assert cfg.model.teachers[0].checkpoint == 'x.pth'
    # what the pipeline's stages get: their dumped config plus the user's
    # options
    stage_cfg = tmp_path / 'config.py'
    Config.fromfile(STUDENT).dump(str(stage_cfg))
    cfg = load_config(str(stage_cfg), {'train_cfg.max_epochs': 2,
                                       'model.loss_weights.kd': 0.5},
                      missing_checkpoints='none')
    assert cfg.model.loss_weights.kd == 0.5


# ---------------------------------------------------------------------------
# 1b. the checkpoints a user legitimately tests still pass the check
# ---------------------------------------------------------------------------
@pytest.mark.slow
def test_distiller_run_and_its_export_pass_the_checkpoint_check(tmp_path):
    """A distiller checkpoint against its config and its export against
    ``student_config.py`` fit; the export against the distiller config is
    refused, named as an exported student."""
    from mmengine.runner import Runner

    from mlfd_mm.apis.export import export_student
    from mlfd_mm.apis.runner import check_run_checkpoint
    from conftest import (distiller_config, make_image_folder,
                          make_joint_teacher)
    teacher = make_joint_teacher(tmp_path)
    data_root = make_image_folder(tmp_path / 'data')
    config = str(tmp_path / 'distiller.py')
    Config(distiller_config(teacher, data_root, tmp_path / 'work',
                            max_epochs=1)).dump(config)
    Runner.from_cfg(Config.fromfile(config)).train()
    checkpoint = str(tmp_path / 'work' / 'epoch_1.pth')
    student_pth, student_cfg = export_student(config, checkpoint,
                                              str(tmp_path / 'export'))

    def runner_for(path, load_from):
        cfg = Config.fromfile(path)
        cfg.work_dir, cfg.load_from = str(tmp_path / 'test'), load_from
        return Runner.from_cfg(cfg), cfg

    runner, cfg = runner_for(config, checkpoint)
    check_run_checkpoint(runner, cfg, config, testing=True)
    runner, cfg = runner_for(student_cfg, student_pth)
    check_run_checkpoint(runner, cfg, student_cfg, testing=True)
    runner, cfg = runner_for(config, student_pth)
    with pytest.raises(CheckpointMismatchError, match='an exported student'):
        check_run_checkpoint(runner, cfg, config, testing=True)
