"""Shared fixtures. ``import mlfd_mm`` comes first: it applies the compat
fixes, which must precede any torchvision import."""
import copy
import os
import os.path as osp
import socket
import subprocess
import sys

import mlfd_mm  # noqa: F401  (must stay the first project import)
import pytest
import torch
from mmpretrain.structures import DataSample

# The suite runs tiny models: one thread avoids oversubscribing small
# machines, where a second thread costs more than it gives.
torch.set_num_threads(1)

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..'))
PYTHON = sys.executable


@pytest.fixture(scope='session')
def tiny_offline_root(tmp_path_factory):
    """Small real offline datasets (100 training images each) in a temp dir."""
    from mlfd_mm.datasets.offline import build_offline_dataset
    root = tmp_path_factory.mktemp('offline')
    for name in ('mnist', 'fashion', 'animals'):
        build_offline_dataset(name, root=str(root), train_size=100, seed=0)
    return str(root)


def run_tool(*args, env=None, timeout=300, check=True):
    """Run a command from the repo root in a fresh process; return it."""
    full_env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1',
                    PYTHON=PYTHON)
    full_env.update(env or {})
    proc = subprocess.run(
        [str(a) for a in args], cwd=REPO, env=full_env, capture_output=True,
        text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f'{" ".join(map(str, args))} exited {proc.returncode}\n'
            f'--- stdout ---\n{proc.stdout[-4000:]}\n'
            f'--- stderr ---\n{proc.stderr[-4000:]}')
    return proc


@pytest.fixture
def cifar_checksums_off(monkeypatch):
    """mmpretrain's CIFAR100 checks the official files' md5 sums; a copy
    written by a test (paper_data.make_cifar100) cannot match them, so they
    are dropped for the test (the files must still be there). In a
    subprocess: ``custom_imports`` of tests/unchecked_cifar.py."""
    from mmpretrain.datasets import CIFAR100
    for split in ('train_list', 'test_list'):
        monkeypatch.setattr(CIFAR100, split, [
            [name, None] for name, _ in getattr(CIFAR100, split)])
    monkeypatch.setitem(CIFAR100.meta, 'md5', None)


def load_tool(path):
    """The module of a script under the repository (``'tools/x.py'``), to
    call its ``main(argv)`` in this process."""
    import importlib.util
    name = '_tool_' + osp.splitext(path)[0].replace('/', '_')
    spec = importlib.util.spec_from_file_location(name, osp.join(REPO, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port():
    """A TCP port free on 127.0.0.1 now (the OS's choice)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


# What torchrun's rendezvous store says when its port was taken between
# free_port() and its bind (another process on the machine got it).
_PORT_TAKEN = ('EADDRINUSE', 'Address already in use',
               'address already in use')


def run_distributed(*args, env=None, timeout=600, attempts=3):
    """Run a multi-process launch (``tools/dist_*.sh``, which read the
    rendezvous port from ``PORT``; an argument ``'{port}'`` is replaced by
    it too) on a free port, and once more on another port if that one was
    taken before the launcher bound it; fail on any other error.

    Several ranks start several interpreters each: on a loaded machine this
    takes minutes, hence the long default ``timeout``.
    """
    for attempt in range(attempts):
        port = str(free_port())
        proc = run_tool(*[port if str(a) == '{port}' else a for a in args],
                        env=dict(env or {}, PORT=port), timeout=timeout,
                        check=False)
        output = proc.stdout + proc.stderr
        if proc.returncode == 0 or not any(s in output for s in _PORT_TAKEN):
            break
    if proc.returncode != 0:
        raise AssertionError(
            f'{" ".join(map(str, args))} exited {proc.returncode} (port '
            f'{port}, attempt {attempt + 1})\n--- stdout ---\n'
            f'{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-4000:]}')
    return proc


# ---------------------------------------------------------------------------
# tiny stage-1 models and their checkpoints
# ---------------------------------------------------------------------------
TINY_MEAN_STD = ([120., 110., 100.], [60., 60., 60.])


def tiny_resnet_cifar(num_classes=3, base_channels=4):
    """ResNet_CIFAR-18 with 4/8/16/32 channels at 32/16/8/4 px (32 px in)
    for the default width."""
    return dict(
        type='ImageClassifier', _scope_='mmpretrain',
        backbone=dict(type='ResNet_CIFAR', depth=18, stem_channels=8,
                      base_channels=base_channels),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=num_classes,
                  in_channels=base_channels * 8))


def tiny_resnet(num_classes, base_channels=8, mean_std=TINY_MEAN_STD):
    """ResNet-18 with 8/16/32/64 channels at 8/4/2/1 px (32 px in) for the
    default width; with its own mean/std unless ``mean_std`` is None."""
    model = dict(
        type='ImageClassifier', _scope_='mmpretrain',
        backbone=dict(type='ResNet', depth=18, stem_channels=8,
                      base_channels=base_channels),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=num_classes,
                  in_channels=base_channels * 8))
    if mean_std is not None:
        model['data_preprocessor'] = dict(mean=list(mean_std[0]),
                                          std=list(mean_std[1]))
    return model


def save_teacher_checkpoint(model_cfg, path, seed=0):
    """Build ``model_cfg`` with ``seed``, give its BatchNorms random running
    statistics (so that "unchanged" is a real check), save it as a stage-1
    checkpoint at ``path`` and return its state dict."""
    from mmengine.registry import MODELS, DefaultScope
    torch.manual_seed(seed)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(model_cfg)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, str(path))
    return model.state_dict()


def write_image_folder(root, num_classes, per_class, seed):
    """A folder-per-class image set of random 32x32 PNGs under ``root`` (a
    pathlib.Path); returns it as a str."""
    import cv2
    import numpy as np
    rng = np.random.default_rng(seed)
    for c in range(num_classes):
        folder = root / f'class{c}'
        folder.mkdir(parents=True)
        for i in range(per_class):
            cv2.imwrite(str(folder / f'{i}.png'),
                        rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
    return str(root)


class _MarkerPayload:
    """Unpickling this runs ``open(marker, 'w')``: it creates the marker
    file. A stand-in for a malicious ``__reduce__`` (``os.system``) whose
    effect a test can check without harm."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, 'w'))


def write_payload_checkpoint(path, marker, state_dict=None):
    """Save a checkpoint whose pickle creates ``marker`` when unpickled
    unsafely (``weights_only=False``); otherwise an ordinary checkpoint of
    ``state_dict``. Returns ``path`` as a str."""
    ckpt = dict(state_dict=dict(state_dict or {}),
                meta=dict(note=_MarkerPayload(marker)))
    torch.save(ckpt, str(path))
    return str(path)


# ---------------------------------------------------------------------------
# distillers: a tiny student, a tiny joint teacher, a batch, a whole config
# ---------------------------------------------------------------------------
# The distiller tests' data preprocessor (the student's mean/std).
MEAN, STD = [120., 110., 100.], [60., 61., 62.]
# Distilled pairs of the tiny student and joint teacher.
PAIRS = [(0, 'l1'), (2, 'l2'), (3, 'l3')]


def narrow_resnet(num_classes):
    """ResNet-18, 4/8/16/32 channels at 8/4/2/1 px for 32 px input, without
    a mean/std of its own; its out_indices are explicit, so that a test can
    see the distiller keep them."""
    model = tiny_resnet(num_classes, base_channels=4, mean_std=None)
    model['backbone']['out_indices'] = (3, )
    return model


def make_joint_teacher(root):
    """Two tiny random teachers 'digits' (3 classes) and 'shapes' (5), a
    JointTeacher over them at L3 (joint levels 8 channels at 4/2/1 px for
    32 px input), saved as a trained joint checkpoint would be.

    Returns:
        dict: ``teacher=`` argument of the distiller.
    """
    teachers = []
    for seed, (name, cfg) in enumerate(
        (('digits', tiny_resnet_cifar(3)),
         ('shapes', tiny_resnet(5, mean_std=([100.] * 3, [70.] * 3))))):
        path = osp.join(str(root), f'{name}.pth')
        save_teacher_checkpoint(cfg, path, seed)
        teachers.append(dict(name=name, config=cfg, checkpoint=path))
    joint_cfg = dict(type='JointTeacher', teachers=teachers, levels='L3',
                     fusion=dict(type='ConcatFusionNeck', width=8))
    checkpoint = osp.join(str(root), 'joint.pth')
    state = save_teacher_checkpoint(copy.deepcopy(joint_cfg), checkpoint, 10)
    for key, value in state.items():
        if key.startswith('head.'):
            value.normal_(0, 0.5)  # confident logits: KD is informative
    torch.save({'state_dict': state, 'meta': {}}, checkpoint)
    return dict(config=joint_cfg, checkpoint=checkpoint)


def make_image_folder(root):
    """Five classes of two random 32 px images under ``root`` (a Path)."""
    return write_image_folder(root, 5, 2, seed=0)


def image_folder_loader(data_root):
    """A deterministic loader (batch 4, no workers) of an image folder."""
    pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
    return dict(
        batch_size=4, num_workers=0,
        dataset=dict(type='CustomDataset', data_root=data_root,
                     pipeline=pipeline),
        sampler=dict(type='DefaultSampler', shuffle=False))


def distiller_config(teacher, data_root, work_dir, max_epochs=2):
    """A whole training config of the distiller on an image folder."""
    loader = image_folder_loader(data_root)
    return dict(
        default_scope='mmpretrain',
        work_dir=str(work_dir),
        model=dict(type='MLFDDistiller', student=narrow_resnet(5),
                   teacher=teacher, dataset='shapes', distill=PAIRS),
        data_preprocessor=dict(num_classes=5, mean=MEAN, std=STD,
                               to_rgb=True),
        train_dataloader=loader, val_dataloader=loader,
        test_dataloader=loader,
        val_evaluator=dict(type='Accuracy', topk=(1, )),
        test_evaluator=dict(type='Accuracy', topk=(1, )),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.05,
                                          momentum=0.9)),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs, val_interval=1),
        val_cfg=dict(), test_cfg=dict(),
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=1),
            checkpoint=dict(type='CheckpointHook', interval=1)),
        custom_hooks=[dict(type='JointTeacherAccuracyHook')],
        randomness=dict(seed=0),
        log_level='WARNING')


def state_copy(module):
    """A detached copy of a module's state_dict (to compare before/after)."""
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


@pytest.fixture
def batch():
    """Four raw 32 px images (0..255) with labels 0, 3, 1, 4."""
    torch.manual_seed(1)
    inputs = torch.rand(4, 3, 32, 32) * 255
    labels = [0, 3, 1, 4]
    return inputs, [DataSample().set_gt_label(k) for k in labels], labels


# ---------------------------------------------------------------------------
# a tiny pipeline
# ---------------------------------------------------------------------------
# Config lines that make any offline stage tiny and deterministic.
_TINY_STAGE = '''
_loader = dict(num_workers=0, persistent_workers=False)
train_dataloader = dict(batch_size=50, **_loader)
val_dataloader = dict(**_loader)
test_dataloader = dict(**_loader)
train_cfg = dict(max_epochs=1, val_interval=1)
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=True)]
'''


def write_tiny_pipeline(tmp_path, root):
    """A pipeline config of tiny 1-epoch stages (mnist and fashion teachers,
    their joint teacher, an mnist student) on ``root``'s offline data."""
    names = dict(mnist='offline_mnist_resnet18', fashion='offline_fashion_tinynet')
    teachers = {}
    for name, stem in names.items():
        path = tmp_path / f'teacher_{name}.py'
        path.write_text(
            f"_base_ = [{osp.join(REPO, 'configs/teachers', stem + '.py')!r}]\n"
            f"_root = {osp.join(root, name)!r}\n" + _TINY_STAGE +
            "train_dataloader.update(dataset=dict(data_root=_root))\n"
            "val_dataloader.update(dataset=dict(data_root=_root))\n"
            "test_dataloader.update(dataset=dict(data_root=_root))\n")
        teachers[name] = str(path)
    joint = tmp_path / 'joint.py'
    joint.write_text(
        f"_base_ = [{osp.join(REPO, 'configs/mlfd/joint_offline.py')!r}]\n"
        f"_t = {teachers!r}\n" + _TINY_STAGE + '''
model = dict(teachers=[dict(name=n, config=c, checkpoint=None)
                       for n, c in _t.items()])
for _split, _loader_cfg in (('train', train_dataloader),
                            ('val', val_dataloader),
                            ('test', test_dataloader)):
    _loader_cfg['dataset'] = dict(
        type='MultiDatasetWrapper', names=list(_t),
        datasets=[dict(config=c, split=_split) for c in _t.values()])
''')
    student = tmp_path / 'student_mnist.py'
    student.write_text(
        f"_base_ = [{osp.join(REPO, 'configs/mlfd/student_offline_mnist.py')!r}]\n"
        f"_root = {osp.join(root, 'mnist')!r}\n" + _TINY_STAGE +
        f"model = dict(student={teachers['mnist']!r})\n"
        "train_dataloader.update(dataset=dict(data_root=_root))\n"
        "val_dataloader.update(dataset=dict(data_root=_root))\n"
        "test_dataloader.update(dataset=dict(data_root=_root))\n")
    pipe = tmp_path / 'pipe.py'
    pipe.write_text(f'name = "tiny"\nteachers = {teachers!r}\n'
                    f'joint_teacher = {str(joint)!r}\n'
                    f'students = dict(mnist={str(student)!r})\n')
    return pipe


@pytest.fixture(scope='session')
def tiny_pipeline_run(tmp_path_factory, tiny_offline_root):
    """The tiny pipeline run once, uninterrupted, with its report:
    ``(pipeline config, work dir, the finished process)``. Tests read it;
    the ones that kill, move or edit a run make their own."""
    root = tmp_path_factory.mktemp('tiny_pipeline')
    pipe = write_tiny_pipeline(root, tiny_offline_root)
    work = root / 'work'
    proc = run_tool(PYTHON, 'tools/run_pipeline.py', pipe, '--work-dir', work,
                    timeout=900)
    return pipe, work, proc


# ---------------------------------------------------------------------------
# parallel runs (make test: pytest -n 2 --dist loadgroup)
# ---------------------------------------------------------------------------
def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist, tests sharing an expensive fixture run in one
    process, so that it is built once: those of ``tiny_pipeline_run`` (a
    whole pipeline) together, and those of a module-scoped or
    session-scoped fixture defined in their own module by module. The rest
    are spread one by one."""
    for item in items:
        if 'tiny_pipeline_run' in getattr(item, 'fixturenames', ()):
            group = 'tiny_pipeline'
        else:
            info = getattr(item, '_fixtureinfo', None)
            defs = [d for ds in (info.name2fixturedefs.values() if info
                                 else ()) for d in ds]
            shared = any(d.scope in ('module', 'session')
                         and d.baseid.endswith('.py') for d in defs)
            group = item.nodeid.split('::')[0] if shared else None
        if group:
            item.add_marker(pytest.mark.xdist_group(group))
