"""mlfd_mm.checkpoint: checkpoints unpickle safely (a payload never runs,
every legitimate kind loads), mismatches name their keys."""
import collections
import os
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.model import BaseModel
from mmengine.runner import Runner, load_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader

from conftest import (PYTHON, REPO, run_tool, tiny_resnet_cifar,
                      write_payload_checkpoint)
from mlfd_mm.checkpoint import (CorruptCheckpointError, UnsafeCheckpointError,
                                describe_checkpoint, load_checkpoint_file,
                                load_state_dict_strict, state_dict_of,
                                trusted_checkpoints)

# ---------------------------------------------------------------------------
# a payload is refused everywhere, without running
# ---------------------------------------------------------------------------


@pytest.fixture
def evil(tmp_path):
    marker = tmp_path / 'payload-ran'
    path = write_payload_checkpoint(
        tmp_path / 'evil.pth', marker,
        state_dict=nn.Linear(2, 3).state_dict())
    return path, marker


def _assert_refused(err, path, marker):
    message = str(err.value)
    assert path in message
    assert 'io.open' in message  # the global the payload calls
    assert 'allow_unsafe=True' in message
    assert not osp.exists(marker)


def test_payload_runs_when_loaded_unsafely(evil):
    # The payload is real: an explicit opt-in runs it (the marker appears).
    path, marker = evil
    load_checkpoint_file(path, 'evil', allow_unsafe=True)
    assert osp.exists(marker)


def test_load_checkpoint_file_refuses_payload(evil):
    path, marker = evil
    with pytest.raises(UnsafeCheckpointError) as err:
        load_checkpoint_file(path, "teacher 'evil'")
    _assert_refused(err, path, marker)
    assert "teacher 'evil'" in str(err.value)


def test_mmengine_loaders_refuse_payload(evil):
    path, marker = evil
    with pytest.raises(UnsafeCheckpointError) as err:
        CheckpointLoader.load_checkpoint(path, map_location='cpu')
    _assert_refused(err, path, marker)
    with pytest.raises(UnsafeCheckpointError) as err:
        load_checkpoint(nn.Linear(2, 3), path, map_location='cpu')
    _assert_refused(err, path, marker)


def test_frozen_and_joint_teacher_refuse_payload(tmp_path, evil):
    from mlfd_mm.models import FrozenTeacher, JointTeacher
    path, marker = evil
    with pytest.raises(UnsafeCheckpointError) as err:
        FrozenTeacher(tiny_resnet_cifar(), checkpoint=path, name='evil')
    _assert_refused(err, path, marker)
    assert "teacher 'evil'" in str(err.value)
    with pytest.raises(UnsafeCheckpointError) as err:
        JointTeacher(teachers=[
            dict(config=tiny_resnet_cifar(), checkpoint=path, name='evil')
        ], num_classes=[10])
    _assert_refused(err, path, marker)


def test_trusted_checkpoints_opens_up_only_the_named_file(tmp_path):
    marker = tmp_path / 'payload-ran'
    trusted = write_payload_checkpoint(tmp_path / 'trusted.pth', marker)
    other = write_payload_checkpoint(tmp_path / 'other.pth', marker)
    with trusted_checkpoints(trusted):
        with pytest.raises(UnsafeCheckpointError, match='other.pth'):
            CheckpointLoader.load_checkpoint(other)
        assert not osp.exists(marker)
        CheckpointLoader.load_checkpoint(trusted)
        assert osp.exists(marker)
    os.remove(marker)
    # The opt-in ended with the block.
    with pytest.raises(UnsafeCheckpointError, match='trusted_checkpoints'):
        load_checkpoint_file(trusted, 'checkpoint')
    assert not osp.exists(marker)


def test_frozen_teacher_loads_a_legacy_file_only_when_told(tmp_path):
    from mlfd_mm.models import FrozenTeacher
    marker = tmp_path / 'payload-ran'
    state = FrozenTeacher(tiny_resnet_cifar(), name='t').state_dict()
    path = write_payload_checkpoint(tmp_path / 'legacy.pth', marker, state)
    with pytest.raises(UnsafeCheckpointError, match='legacy.pth'):
        FrozenTeacher(tiny_resnet_cifar(), checkpoint=path, name='t')
    assert not osp.exists(marker)
    teacher = FrozenTeacher(tiny_resnet_cifar(), checkpoint=path, name='t',
                            allow_unsafe_checkpoint=True)
    assert osp.exists(marker)  # the opt-in really unpickled it unsafely
    for key, value in teacher.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_joint_checkpoint_with_payload_is_refused_by_load_from(tmp_path):
    from mlfd_mm.models import JointTeacher
    joint = JointTeacher(
        teachers=[dict(config=tiny_resnet_cifar(), name='a')],
        num_classes=[10])
    marker = tmp_path / 'payload-ran'
    path = write_payload_checkpoint(tmp_path / 'joint.pth', marker,
                                    joint.state_dict())
    with pytest.raises(UnsafeCheckpointError) as err:
        load_checkpoint(joint, path, map_location='cpu')
    _assert_refused(err, path, marker)


def test_getattr_is_only_allowed_for_history_buffer_statistics(tmp_path):
    # mmengine checkpoints pickle getattr(HistoryBuffer, 'min'); any other
    # getattr would reach arbitrary attributes.

    class Reach:

        def __reduce__(self):
            return (getattr, (HistoryBuffer, '__init__'))

    path = str(tmp_path / 'reach.pth')
    torch.save(dict(state_dict={}, meta=dict(x=Reach())), path)
    with pytest.raises(UnsafeCheckpointError, match='reach.pth'):
        load_checkpoint_file(path, 'checkpoint')


# ---------------------------------------------------------------------------
# every legitimate kind loads
# ---------------------------------------------------------------------------


class _ToyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 2)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.linear(torch.stack(inputs))
        if mode == 'loss':
            return dict(loss=out.pow(2).mean())
        return out


class _ToyDataset(torch.utils.data.Dataset):
    metainfo = dict(classes=('a', 'b'))

    def __len__(self):
        return 8

    def __getitem__(self, idx):
        return dict(inputs=torch.full((4, ), float(idx)))


class _IterCounter(Hook):

    def __init__(self):
        self.iters = 0

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.iters += 1


def _runner(work_dir, **kwargs):
    return Runner(
        model=_ToyModel(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=_ToyDataset(),
            sampler=dict(type='DefaultSampler', shuffle=True),
            batch_size=4, num_workers=0),
        optim_wrapper=dict(
            optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
        param_scheduler=dict(type='MultiStepLR', milestones=[1]),
        train_cfg=dict(by_epoch=True, max_epochs=kwargs.pop('epochs', 1)),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=1),
            logger=dict(type='LoggerHook', interval=1)),
        randomness=dict(seed=0),
        **kwargs)


def test_runner_checkpoint_loads_and_resumes(tmp_path):
    runner = _runner(tmp_path / 'run')
    runner.train()
    path = str(tmp_path / 'run' / 'epoch_1.pth')
    loaded = load_checkpoint_file(path, 'checkpoint')
    assert {'meta', 'state_dict', 'optimizer', 'message_hub',
            'param_schedulers'} <= set(loaded)
    buffer = loaded['message_hub']['log_scalars']['train/loss']
    assert isinstance(buffer, HistoryBuffer)
    assert buffer.statistics('min') == buffer.min()
    assert loaded['meta']['epoch'] == 1
    assert torch.equal(loaded['state_dict']['linear.weight'],
                       runner.model.linear.weight.detach())

    # --resume goes through mmengine's CheckpointLoader: only epoch 2 runs.
    counter = _IterCounter()
    resumed = _runner(tmp_path / 'run', epochs=2, resume=True,
                      custom_hooks=[counter])
    resumed.train()
    assert counter.iters == 2  # 8 samples / batch 4: one epoch
    assert resumed.train_loop.epoch == 2
    assert osp.isfile(tmp_path / 'run' / 'epoch_2.pth')


def test_plain_state_dict_and_numpy_meta_load(tmp_path):
    model = nn.Linear(3, 2)
    bare = str(tmp_path / 'bare.pth')
    torch.save(model.state_dict(), bare)
    loaded = load_checkpoint_file(bare, 'checkpoint')
    assert isinstance(loaded, collections.OrderedDict)
    assert torch.equal(state_dict_of(loaded)['weight'], model.weight)

    rng = np.random.RandomState(3)
    meta = dict(best=np.float64(0.5), step=np.int64(7),
                table=np.arange(6, dtype=np.float32).reshape(2, 3),
                numpy_rng=rng.get_state(),
                generator=np.random.default_rng(1).bit_generator.state)
    path = str(tmp_path / 'meta.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=meta), path)
    loaded = load_checkpoint_file(path, 'checkpoint')['meta']
    assert loaded['best'] == 0.5 and loaded['step'] == 7
    assert np.array_equal(loaded['table'], meta['table'])
    assert np.array_equal(loaded['numpy_rng'][1], rng.get_state()[1])
    assert loaded['generator'] == meta['generator']


def test_module_prefix_is_stripped():
    state = {'module.backbone.w': torch.zeros(1), 'head.b': torch.ones(1)}
    assert sorted(state_dict_of(dict(state_dict=state))) == [
        'backbone.w', 'head.b']


# ---------------------------------------------------------------------------
# unreadable files
# ---------------------------------------------------------------------------


def test_missing_file_names_what_and_path(tmp_path):
    missing = str(tmp_path / 'nope.pth')
    with pytest.raises(FileNotFoundError) as err:
        load_checkpoint_file(missing, 'teacher.checkpoint')
    assert str(err.value) == (
        f'teacher.checkpoint: checkpoint file not found: {missing}')


def test_truncated_file_names_path(tmp_path):
    whole = str(tmp_path / 'whole.pth')
    torch.save(nn.Linear(8, 8).state_dict(), whole)
    data = open(whole, 'rb').read()
    cut = str(tmp_path / 'cut.pth')
    with open(cut, 'wb') as f:
        f.write(data[:len(data) // 2])
    with pytest.raises(CorruptCheckpointError) as err:
        load_checkpoint_file(cut, 'checkpoint')
    assert cut in str(err.value) and 'truncated' in str(err.value)
    # Through mmengine's loader too.
    with pytest.raises(CorruptCheckpointError, match='cut.pth'):
        CheckpointLoader.load_checkpoint(cut)


@pytest.mark.parametrize('zip_format', [True, False])
def test_every_truncation_is_reported_as_damage(tmp_path, zip_format):
    # Never a bare torch/pickle error, never mistaken for a refused global.
    whole = str(tmp_path / 'whole.pth')
    torch.save(dict(state_dict=nn.Linear(4, 4).state_dict(), meta={}),
               whole, _use_new_zipfile_serialization=zip_format)
    data = open(whole, 'rb').read()
    cut = str(tmp_path / 'cut.pth')
    for size in range(0, len(data), max(1, len(data) // 150)):
        with open(cut, 'wb') as f:
            f.write(data[:size])
        with pytest.raises(CorruptCheckpointError, match='cut.pth'):
            load_checkpoint_file(cut, 'checkpoint')


def test_not_a_checkpoint_names_path(tmp_path):
    path = str(tmp_path / 'notes.pth')
    with open(path, 'w') as f:
        f.write('not a checkpoint\n')
    with pytest.raises(CorruptCheckpointError, match='notes.pth'):
        load_checkpoint_file(path, 'checkpoint')


# ---------------------------------------------------------------------------
# strict loading and what a checkpoint is
# ---------------------------------------------------------------------------


def test_strict_load_lists_missing_unexpected_and_misshaped():
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 4))
    state = {
        '0.weight': torch.zeros(2, 3),
        '1.weight': torch.zeros(5, 2),  # model: (4, 2)
        'extra.bias': torch.zeros(1),
    }
    with pytest.raises(RuntimeError) as err:
        load_state_dict_strict(model, state, 'checkpoint x.pth',
                               prefix_hint='backbone')
    message = str(err.value)
    assert message.startswith('checkpoint x.pth does not match its '
                              'backbone Sequential: ')
    assert 'missing (2): 0.bias, 1.bias' in message
    assert 'unexpected (1): extra.bias' in message
    assert ('shape mismatch (1): 1.weight (checkpoint (5, 2), model '
            '(4, 2))') in message
    # Nothing was loaded.
    assert not torch.equal(model[0].weight, torch.zeros(2, 3))


def test_strict_load_lists_first_keys_and_count():
    model = nn.Linear(2, 2)
    state = dict(model.state_dict(),
                 **{f'extra{i}': torch.zeros(1) for i in range(8)})
    with pytest.raises(RuntimeError,
                       match=r'unexpected \(8\): extra0, extra1, extra2, '
                       r'extra3, extra4 and 3 more'):
        load_state_dict_strict(model, state, 'checkpoint')


def test_strict_load_loads_matching_state():
    source, target = nn.Linear(3, 2), nn.Linear(3, 2)
    load_state_dict_strict(target, source.state_dict(), 'checkpoint')
    assert torch.equal(target.weight, source.weight)


@pytest.mark.parametrize('keys, kind', [
    (['backbone.conv.weight', 'head.fc.weight'], 'stage-1 teacher'),
    (['backbone.conv.weight', 'cls_head.fc_cls.weight'], 'stage-1 teacher'),
    (['teachers.0.backbone.w', 'neck.w', 'head.w'], 'joint teacher'),
    (['student.backbone.w', 'teacher.teachers.0.w', 'connectors.0.w'],
     'distiller run'),
    (['student.backbone.w', 'teachers.0.backbone.w'], 'distiller run'),
    (['foo.w', 'bar.w'], "unknown model (top-level keys ['bar', 'foo'])"),
])
def test_describe_checkpoint(keys, kind):
    assert kind in describe_checkpoint({k: None for k in keys})


def test_describe_an_export_by_its_meta():
    state = {'backbone.conv.weight': None, 'head.fc.weight': None}
    assert describe_checkpoint(state, dict(exported_from='/r/epoch_3.pth')) \
        == 'an exported student (from /r/epoch_3.pth)'
    assert 'stage-1 teacher' in describe_checkpoint(state, dict(epoch=3))


def test_mismatch_message_says_what_the_checkpoint_is():
    joint_state = {'teachers.0.backbone.w': torch.zeros(1)}
    with pytest.raises(RuntimeError, match='looks like a joint teacher'):
        load_state_dict_strict(nn.Linear(1, 1), joint_state, 'checkpoint')


# ---------------------------------------------------------------------------
# the tools, as a user runs them
# ---------------------------------------------------------------------------
TEACHER_CONFIG = osp.join(REPO, 'configs/teachers/offline_mnist_resnet18.py')


def _data_roots(tiny_offline_root):
    root = osp.join(tiny_offline_root, 'mnist')
    return [f'{split}_dataloader.dataset.data_root={root}'
            for split in ('train', 'val', 'test')]


@pytest.mark.slow
@pytest.mark.parametrize('tool', ['test', 'train --resume'])
def test_tools_refuse_payload(tool, tmp_path, tiny_offline_root):
    marker = tmp_path / 'payload-ran'
    path = write_payload_checkpoint(tmp_path / 'evil.pth', marker)
    script = tool.split()[0]
    args = ([TEACHER_CONFIG, path] if script == 'test' else
            [TEACHER_CONFIG, '--resume', path])
    proc = run_tool(PYTHON, osp.join(REPO, 'tools', f'{script}.py'), *args,
                    '--work-dir', tmp_path / 'work', '--cfg-options',
                    *_data_roots(tiny_offline_root), check=False)
    assert proc.returncode != 0
    assert 'UnsafeCheckpointError' in proc.stderr
    assert path in proc.stderr and 'io.open' in proc.stderr
    assert not osp.exists(marker)


@pytest.mark.slow
def test_test_tool_trusts_only_a_named_checkpoint(tmp_path,
                                                  tiny_offline_root):
    """``--trust-checkpoint FILE`` is the explicit per-run opt-in: the named
    legacy file is unpickled unsafely (here its payload runs, which is what
    the user accepted), and the run goes on to the strict key check."""
    marker = tmp_path / 'payload-ran'
    path = write_payload_checkpoint(tmp_path / 'legacy.pth', marker)
    proc = run_tool(PYTHON, osp.join(REPO, 'tools', 'test.py'),
                    TEACHER_CONFIG, path, '--trust-checkpoint', path,
                    '--work-dir', tmp_path / 'work', '--cfg-options',
                    *_data_roots(tiny_offline_root), check=False)
    assert osp.exists(marker)
    assert 'UnsafeCheckpointError' not in proc.stderr


@pytest.mark.slow
def test_export_tool_refuses_payload(tmp_path):
    """tools/export_student.py on a distiller checkpoint whose pickle
    carries a payload: refused, naming the file, nothing exported."""
    marker = tmp_path / 'payload-ran'
    path = write_payload_checkpoint(tmp_path / 'evil.pth', marker)
    out_dir = tmp_path / 'export'
    proc = run_tool(PYTHON, osp.join(REPO, 'tools', 'export_student.py'),
                    osp.join(REPO, 'configs/mlfd/student_offline_mnist.py'),
                    path, out_dir, check=False)
    assert proc.returncode != 0
    assert 'UnsafeCheckpointError' in proc.stderr and path in proc.stderr
    assert not osp.exists(marker)
    assert not (out_dir / 'student.pth').exists()
