"""tools/train.py, tools/test.py, tools/dist_train.sh and tools/dist_test.sh
as a user runs them, each in a fresh process, on a small real offline
dataset; and the set-up they share (mlfd_mm.apis.runner)."""
import json
import os.path as osp

import pytest
import torch

from conftest import PYTHON, REPO, run_distributed, run_tool

from mlfd_mm.apis.runner import format_accuracy_table, load_config

TEACHER = osp.join(REPO, 'configs/teachers/offline_mnist_resnet18.py')
BATCH = 25  # 100 training images -> 4 iterations per epoch on one process


def _tiny_config(tmp_path, data_root, max_epochs, name='tiny.py'):
    """A user config inheriting an offline teacher: tiny, deterministic."""
    path = tmp_path / name
    path.write_text(f'''
_base_ = [{TEACHER!r}]
_root = {osp.join(data_root, 'mnist')!r}
_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
_loader = dict(num_workers=0, persistent_workers=False)
train_dataloader = dict(
    batch_size={BATCH}, **_loader,
    dataset=dict(data_root=_root, pipeline=_pipeline))
val_dataloader = dict(**_loader, dataset=dict(data_root=_root))
test_dataloader = dict(**_loader, dataset=dict(data_root=_root))
train_cfg = dict(max_epochs={max_epochs}, val_interval=100)
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, T_max=3)]
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=-1))
''')
    return str(path)


def _state(path):
    return torch.load(path, map_location='cpu', weights_only=False)


_CRASH_HOOK = """
import os
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class CrashAfterIterHook(Hook):
    # Simulates a killed job: the process dies without any clean-up.
    def __init__(self, after_iter):
        self.after = after_iter

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if runner.iter + 1 >= self.after:
            os._exit(3)
"""


@pytest.mark.slow
def test_resume_continues_an_interrupted_run(tmp_path, tiny_offline_root):
    iters_per_epoch = 100 // BATCH
    cfg = _tiny_config(tmp_path, tiny_offline_root, 3)
    full = tmp_path / 'full'
    run_tool(PYTHON, 'tools/train.py', cfg, '--work-dir', full)

    (tmp_path / 'crash_hook.py').write_text(_CRASH_HOOK)
    crashing = tmp_path / 'crashing.py'
    crashing.write_text(
        f"_base_ = [{cfg!r}]\n"
        "custom_imports = dict(imports=['mlfd_mm', 'crash_hook'])\n"
        "custom_hooks = [dict(type='CrashAfterIterHook', "
        f"after_iter={iters_per_epoch + 2})]\n")
    part = tmp_path / 'part'
    killed = run_tool(PYTHON, 'tools/train.py', crashing, '--work-dir', part,
                      env=dict(PYTHONPATH=f'{REPO}:{tmp_path}'), check=False)
    assert killed.returncode == 3, killed.stderr[-2000:]
    assert (part / 'epoch_1.pth').exists()
    assert not (part / 'epoch_2.pth').exists()

    resumed = run_tool(PYTHON, 'tools/train.py', cfg, '--work-dir', part,
                       '--resume')
    assert 'resumed epoch: 1' in resumed.stdout + resumed.stderr
    a, b = _state(full / 'epoch_3.pth'), _state(part / 'epoch_3.pth')
    assert b['meta']['epoch'] == 3
    assert b['meta']['iter'] == 3 * iters_per_epoch
    assert a['state_dict'].keys() == b['state_dict'].keys()
    for key, value in a['state_dict'].items():
        torch.testing.assert_close(b['state_dict'][key], value,
                                   rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_test_tool_prints_and_writes_accuracy(tmp_path, tiny_offline_root):
    work = tmp_path / 'work'
    cfg = _tiny_config(tmp_path, tiny_offline_root, 1)
    run_tool(PYTHON, 'tools/train.py', cfg, '--work-dir', work)
    out = tmp_path / 'metrics.json'
    proc = run_tool(PYTHON, 'tools/test.py', cfg, work / 'epoch_1.pth',
                    '--work-dir', work, '--out', out)
    assert 'acc@1' in proc.stdout and 'acc@5' in proc.stdout
    metrics = json.loads(out.read_text())
    assert 0.0 <= metrics['accuracy/top1'] <= metrics['accuracy/top5'] <= 100
    # dist_test.sh: the same checkpoint under torchrun (one process) gives
    # the same metrics.
    dist_out = tmp_path / 'dist_metrics.json'
    run_distributed('bash', 'tools/dist_test.sh', cfg, work / 'epoch_1.pth',
                    1, '--work-dir', work, '--out', dist_out)
    assert json.loads(dist_out.read_text()) == pytest.approx(metrics)


@pytest.mark.slow
def test_train_refuses_a_missing_data_root(tmp_path):
    cfg = _tiny_config(tmp_path, str(tmp_path / 'no_such_root'), 1)
    proc = run_tool(PYTHON, 'tools/train.py', cfg, '--work-dir',
                    tmp_path / 'w', check=False)
    assert proc.returncode != 0
    assert 'train_dataloader.dataset.data_root' in proc.stderr
    assert str(tmp_path / 'no_such_root') in proc.stderr
    assert not (tmp_path / 'w').exists() or not list(
        (tmp_path / 'w').glob('*.pth'))


@pytest.mark.slow
def test_test_tool_refuses_a_missing_checkpoint(tmp_path, tiny_offline_root):
    cfg = _tiny_config(tmp_path, tiny_offline_root, 1)
    missing = tmp_path / 'nothing_here.pth'
    proc = run_tool(PYTHON, 'tools/test.py', cfg, missing, check=False)
    assert proc.returncode != 0
    assert 'checkpoint file does not exist' in proc.stderr
    assert str(missing) in proc.stderr


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU path under test')
def test_two_process_cpu_training(tmp_path, tiny_offline_root):
    work = tmp_path / 'ddp'
    proc = run_distributed('bash', 'tools/dist_train.sh',
                           _tiny_config(tmp_path, tiny_offline_root, 1), 2,
                           '--work-dir', work)
    ckpt = _state(work / 'epoch_1.pth')
    # Two ranks share the 100 images: half the iterations of one process.
    assert ckpt['meta']['iter'] == 100 // (2 * BATCH)
    assert all(torch.isfinite(v).all() for v in ckpt['state_dict'].values()
               if v.is_floating_point())
    assert 'gloo' in (proc.stdout + proc.stderr)


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU behaviour')
def test_amp_on_cpu_is_a_clear_error(tmp_path):
    cfg = _tiny_config(tmp_path, str(tmp_path), 1)
    proc = run_tool(PYTHON, 'tools/train.py', cfg, '--amp', check=False)
    assert proc.returncode != 0 and '--amp needs a CUDA device' in proc.stderr


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU path under test')
def test_two_process_cpu_joint_teacher(tmp_path, tiny_offline_root):
    """The joint teacher (frozen teachers, mixing sampler, per-dataset
    metric) trains under torchrun on CPU; the teachers stay untouched."""
    teachers = {}
    for name, stem in (('mnist', 'offline_mnist_resnet18'),
                       ('fashion', 'offline_fashion_tinynet')):
        path = tmp_path / f'{name}.py'
        path.write_text(
            f"_base_ = [{osp.join(REPO, 'configs/teachers', stem + '.py')!r}]\n"
            f"_r = {osp.join(tiny_offline_root, name)!r}\n"
            "train_dataloader = dict(dataset=dict(data_root=_r))\n"
            "val_dataloader = dict(dataset=dict(data_root=_r))\n"
            "test_dataloader = dict(dataset=dict(data_root=_r))\n")
        teachers[name] = str(path)
    cfg = tmp_path / 'joint.py'
    cfg.write_text(
        f"_base_ = [{osp.join(REPO, 'configs/mlfd/joint_offline.py')!r}]\n"
        f"_t = {teachers!r}\n" + '''
model = dict(teachers=[dict(name=n, config=c, checkpoint=None)
                       for n, c in _t.items()])
_loader = dict(num_workers=0, persistent_workers=False)
train_dataloader = dict(batch_size=25, **_loader, dataset=dict(
    names=list(_t), datasets=[dict(config=c, split='train')
                              for c in _t.values()]))
val_dataloader = dict(batch_size=100, **_loader, dataset=dict(
    names=list(_t), datasets=[dict(config=c, split='test')
                              for c in _t.values()]))
test_dataloader = val_dataloader
train_cfg = dict(max_epochs=1, val_interval=1)
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=True)]
''')
    work = tmp_path / 'ddp_joint'
    proc = run_distributed('bash', 'tools/dist_train.sh', cfg, 2,
                           '--work-dir', work)
    ckpt = _state(work / 'epoch_1.pth')
    # 2 x 100 training images over 2 ranks of 25: 4 iterations each
    assert ckpt['meta']['iter'] == 200 // (2 * 25)
    log = proc.stdout + proc.stderr
    assert 'mnist/accuracy_top1' in log and 'fashion/accuracy_top1' in log
    assert not any(k.startswith('teachers.') and 'num_batches_tracked' in k
                   and v.item() != 0 for k, v in ckpt['state_dict'].items()
                   if v.numel() == 1)


def test_load_config_folds_in_the_command_line(tmp_path):
    cfg_file = tmp_path / 'my_run.py'
    cfg_file.write_text('a = dict(b=1)\n')
    cfg = load_config(str(cfg_file), dict(**{'a.b': 2}), 'pytorch')
    assert (cfg.a.b, cfg.launcher) == (2, 'pytorch')
    assert cfg.work_dir == osp.join('./work_dirs', 'my_run')
    assert load_config(str(cfg_file), work_dir='w').work_dir == 'w'
    cfg_file.write_text('work_dir = "mine"\n')
    assert load_config(str(cfg_file)).work_dir == 'mine'


def test_load_config_imports_custom_imports_of_the_command_line(
        tmp_path, monkeypatch):
    """``--cfg-options custom_imports.imports=[...]`` is imported (mmengine
    imports only a config file's own, when it reads the file)."""
    (tmp_path / 'my_plugin_h3.py').write_text('IMPORTED = True\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg_file = tmp_path / 'run.py'
    cfg_file.write_text('a = 1\n')
    load_config(str(cfg_file), {'custom_imports.imports': ['my_plugin_h3']})
    import sys
    assert sys.modules['my_plugin_h3'].IMPORTED
    with pytest.raises(ImportError, match='no_such_plugin'):
        load_config(str(cfg_file), {'custom_imports.imports': [
            'no_such_plugin']})


def test_format_accuracy_table():
    table = format_accuracy_table({
        'mnist/accuracy_top1': 91.5, 'mnist/accuracy_top5': 99.0,
        'fashion/accuracy_top1': 80.25})
    assert table.splitlines() == [
        'dataset             acc@1    acc@5',
        'mnist               91.50    99.00',
        'fashion             80.25        -']
    assert format_accuracy_table({'accuracy/top1': 50.0}).splitlines()[1] \
        == 'all                 50.00        -'
    assert json.loads(format_accuracy_table({'loss': 1.5})) == {'loss': 1.5}


def test_run_distributed_retries_only_a_taken_port(monkeypatch):
    """The suite's launcher helper: a port taken between its choice and the
    launcher's bind is retried on another; other failures are not."""
    import conftest
    ports = iter([1111, 2222, 3333])
    monkeypatch.setattr(conftest, 'free_port', lambda: next(ports))
    script = ('echo "{port} $PORT"; test "$PORT" != 1111 || '
              '{ echo "EADDRINUSE: address already in use" >&2; exit 1; }')
    proc = run_distributed('bash', '-c', script.replace('{port}', '$0'),
                           '{port}')
    assert proc.stdout.split() == ['2222', '2222']
    with pytest.raises(AssertionError,
                       match='exited 3 .port 3333, attempt 1'):
        run_distributed('bash', '-c', 'exit 3')
