"""The GPU path, checked on the CPU: the precision and memory-format options
build and step here (and leave the default CPU path exactly as it was), the
training steps read nothing back from the device, --amp's bf16 wrapper
steps, and tools/benchmark.py --device runs its ten rows end to end."""
import copy
import json

import pytest
import torch
from mmengine.registry import MODELS, init_default_scope
from mmpretrain.structures import DataSample

from conftest import (PAIRS, REPO, make_joint_teacher, narrow_resnet,
                      tiny_resnet, tiny_resnet_cifar)
from mlfd_mm.apis.benchmark.device import (PRECISIONS, VARIANTS,
                                           format_device_report,
                                           run_device_benchmark)
from mlfd_mm.apis.device_training import amp_optim_wrapper
from mlfd_mm.engine import AutocastOptimWrapper

init_default_scope('mmpretrain')
NHWC = torch.channels_last


@pytest.fixture(scope='module')
def teacher(tmp_path_factory):
    return make_joint_teacher(tmp_path_factory.mktemp('joint'))


def samples(labels, name):
    out = []
    for label in labels:
        sample = DataSample().set_gt_label(label)
        sample.set_metainfo(dict(dataset_name=name))
        out.append(sample)
    return out


def raw_images(seed=1, n=4):
    torch.manual_seed(seed)
    return torch.rand(n, 3, 32, 32) * 255


def distiller(teacher, **student_side):
    torch.manual_seed(0)
    model = MODELS.build(dict(type='MLFDDistiller', student=narrow_resnet(5),
                              teacher=teacher, dataset='shapes',
                              distill=PAIRS))
    model.init_weights()
    for key, value in student_side.items():
        setattr(model.student_side.device_format, key, value)
    return model.train()


def step(model, inputs, data_samples):
    """Losses (floats) and gradients of one loss-mode step."""
    model.zero_grad()
    losses = model.loss(inputs, data_samples)
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()
             if p.grad is not None}
    return {k: v.detach().clone() for k, v in losses.items()}, grads


# ---------------------------------------------------------------------------
# options: defaults on the CPU change nothing; forced ones build and step
# ---------------------------------------------------------------------------
def test_cpu_defaults_are_the_plain_fp32_nchw_path(teacher):
    """'auto' on the CPU is exactly fp32 NCHW: the same losses and
    gradients, bit for bit, as the options switched off explicitly."""
    joint_off = dict(teacher, config=dict(teacher['config'],
                                          teacher_precision='fp32',
                                          channels_last=False))
    default = step(distiller(teacher), raw_images(),
                   samples([0, 3, 1, 4], 'shapes'))
    off = step(distiller(joint_off, channels_last=False), raw_images(),
               samples([0, 3, 1, 4], 'shapes'))
    assert default[0].keys() == off[0].keys()
    for key in default[0]:
        assert torch.equal(default[0][key], off[0][key]), key
    assert default[1].keys() == off[1].keys()
    for key in default[1]:
        assert torch.equal(default[1][key], off[1][key]), key
    model = distiller(teacher)
    step(model, raw_images(), samples([0, 3, 1, 4], 'shapes'))
    conv = model.student.backbone.conv1.weight  # (8, 3, 3, 3)
    assert conv.is_contiguous()
    assert not conv.is_contiguous(memory_format=NHWC)


def test_frozen_teacher_bf16_and_channels_last_on_cpu():
    cfg = dict(type='FrozenTeacher', config=tiny_resnet(5), name='shapes')
    torch.manual_seed(0)
    reference = MODELS.build(cfg)
    forced = MODELS.build(dict(cfg, precision='bf16', channels_last=True))
    forced.load_state_dict(reference.state_dict())
    x = raw_images()
    ref_feats, feats = reference(x), forced(x)
    assert [f.shape for f in feats] == [f.shape for f in ref_feats]
    for ref, got in zip(ref_feats, feats):
        # fp32 out for an fp32 caller, NHWC maps, bf16-close values
        assert got.dtype == torch.float32 and got.is_contiguous(
            memory_format=NHWC)
        assert (got - ref).abs().max() <= 0.05 * ref.abs().max()
    assert forced.backbone.conv1.weight.is_contiguous(memory_format=NHWC)
    # the state dict is the same (values, keys): checkpoints are unchanged
    for key, value in reference.state_dict().items():
        assert torch.equal(value, forced.state_dict()[key]), key
    # under the caller's autocast the maps come as autocast made them
    with torch.autocast('cpu', dtype=torch.bfloat16):
        assert forced(x)[-1].dtype == torch.bfloat16


def test_bad_option_values_name_the_owner():
    cfg = dict(type='FrozenTeacher', config=tiny_resnet(5), name='shapes')
    with pytest.raises(ValueError, match=r"teacher 'shapes': precision "
                       r"must be one of .*got 'half'"):
        MODELS.build(dict(cfg, precision='half'))
    with pytest.raises(ValueError, match="channels_last must be True, "
                       "False or 'auto', got 'yes'"):
        MODELS.build(dict(cfg, channels_last='yes'))
    joint = dict(type='JointTeacher', levels='L3',
                 teachers=[dict(name='a', config=tiny_resnet_cifar(3))],
                 teacher_precision='int8')
    with pytest.raises(ValueError, match='JointTeacher.teacher_precision: '
                       'precision must be one of'):
        MODELS.build(joint)


def test_joint_teacher_and_student_forced_options_step_on_cpu(teacher):
    """bf16 teachers and NHWC everywhere (forced, as on CUDA): a joint step
    and a distiller step run, with finite losses and gradients, close to the
    fp32 NCHW ones."""
    joint_cfg = dict(copy.deepcopy(teacher['config']),
                     teacher_precision='bf16', channels_last=True)
    torch.manual_seed(10)
    joint = MODELS.build(joint_cfg)
    assert all(t.device_format.precision == 'bf16'
               and t.device_format.channels_last is True
               for t in joint.teachers)
    joint.train()
    x = raw_images()
    labels = samples([0, 1, 2, 1], 'digits')
    losses = joint.loss(x, labels)
    sum(losses.values()).backward()
    assert all(torch.isfinite(v) for v in losses.values())
    assert next(joint.neck.parameters()).grad is not None
    assert any(p.dim() == 4 and p.is_contiguous(memory_format=NHWC)
               for p in joint.neck.parameters())

    forced = dict(teacher, config=joint_cfg)
    got = step(distiller(forced, channels_last=True), x,
               samples([0, 3, 1, 4], 'shapes'))
    ref = step(distiller(teacher), x, samples([0, 3, 1, 4], 'shapes'))
    for key in ref[0]:
        assert torch.isfinite(got[0][key])
        assert got[0][key] == pytest.approx(float(ref[0][key]), rel=0.05,
                                            abs=1e-3), key


# ---------------------------------------------------------------------------
# no host-device waits in the training steps
# ---------------------------------------------------------------------------
_WAITS = ('item', 'tolist', 'cpu', 'numpy', '__bool__', '__float__')


@pytest.fixture
def count_waits(monkeypatch):
    """Count calls of the Tensor methods that make the host wait for a
    device (on a GPU) while a step runs."""
    calls = []

    def counting(name, original):
        def method(self, *args, **kwargs):
            calls.append(name)
            return original(self, *args, **kwargs)
        return method

    def start():
        for name in _WAITS:
            monkeypatch.setattr(torch.Tensor, name,
                                counting(name, getattr(torch.Tensor, name)))
        return calls

    return start


def test_mlfd_step_reads_nothing_back(teacher, count_waits):
    model = distiller(teacher)
    x, data = raw_images(), samples([0, 3, 1, 4], 'shapes')
    calls = count_waits()
    losses = model.loss(x, data)
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert calls == []


def test_amtml_step_reads_nothing_back(count_waits):
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='AMTMLDistiller', student=narrow_resnet(5),
        teachers=[dict(name='a', config=tiny_resnet(5)),
                  dict(name='b', config=narrow_resnet(5))],
        hints=dict(a=dict(teacher_stage=2, student_stage=2),
                   b=dict(teacher_stage=3, student_stage=3))))
    model.train()
    x, data = raw_images(), samples([0, 3, 1, 4], 'shapes')
    calls = count_waits()
    losses = model.loss(x, data)
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert calls == []


def test_joint_step_waits_once_for_its_label_check(teacher, count_waits):
    torch.manual_seed(10)
    joint = MODELS.build(copy.deepcopy(teacher['config'])).train()
    x = raw_images()
    data = samples([0, 1, 2], 'digits') + samples([4], 'shapes')
    calls = count_waits()
    sum(joint.loss(x, data).values()).backward()
    assert calls == ['__bool__']  # bad.any(): one per step, not per dataset


# ---------------------------------------------------------------------------
# --amp
# ---------------------------------------------------------------------------
def test_amp_wrapper_choice_and_a_bf16_step_on_cpu(teacher):
    plain = dict(optimizer=dict(type='SGD', lr=0.1))
    assert amp_optim_wrapper(plain, device='cpu') == dict(
        plain, type='AutocastOptimWrapper', dtype='bfloat16')
    assert amp_optim_wrapper(dict(plain, type='AmpOptimWrapper'),
                             device='cpu')['type'] == 'AmpOptimWrapper'
    with pytest.raises(ValueError, match="optim_wrapper.type='Lion' is not a"
                       ' plain OptimWrapper'):
        amp_optim_wrapper(dict(plain, type='Lion'), device='cpu')
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match='--amp needs a CUDA device'):
            amp_optim_wrapper(plain)
    with pytest.raises(ValueError, match='float16 needs loss scaling'):
        AutocastOptimWrapper(dtype='float16',
                             optimizer=torch.optim.SGD(
                                 [torch.nn.Parameter(torch.zeros(1))], lr=1))

    model = distiller(teacher)
    wrapper = AutocastOptimWrapper(optimizer=torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad], lr=0.01))
    before = model.student.head.fc.weight.detach().clone()
    seen = {}

    def record(module, args, output):
        seen['dtype'] = output.dtype

    model.student.backbone.register_forward_hook(
        lambda m, a, out: record(m, a, out[-1]))
    log = model.train_step(dict(inputs=raw_images().to(torch.uint8),
                                data_samples=samples([0, 3, 1, 4],
                                                     'shapes')), wrapper)
    assert seen['dtype'] == torch.bfloat16  # the forward ran in bf16
    assert torch.isfinite(log['loss'])
    assert not torch.equal(before, model.student.head.fc.weight)
    assert model.student.head.fc.weight.dtype == torch.float32


# ---------------------------------------------------------------------------
# tools/benchmark.py --device
# ---------------------------------------------------------------------------
def _write_configs(tmp_path, teacher):
    """A joint config of the tiny teachers (no checkpoints) and an MLFD
    student config on it, as files."""
    joint = tmp_path / 'joint.py'
    joint_model = copy.deepcopy(teacher['config'])
    for spec in joint_model['teachers']:
        spec['checkpoint'] = None
    joint.write_text(
        f"default_scope = 'mmpretrain'\nmodel = {joint_model!r}\n")
    student_model = dict(
        type='MLFDDistiller', student=narrow_resnet(5),
        teacher=dict(config=str(joint), checkpoint=None), dataset='shapes',
        distill=PAIRS)
    student = tmp_path / 'student.py'
    student.write_text(
        f"default_scope = 'mmpretrain'\nmodel = {student_model!r}\n"
        'data_preprocessor = dict(mean=[120.0] * 3, std=[60.0] * 3, '
        'to_rgb=True)\n')
    return str(joint), str(student)


def test_device_benchmark_on_cpu_gives_the_ten_rows(tmp_path, teacher,
                                                   monkeypatch):
    monkeypatch.chdir(REPO)
    joint, student = _write_configs(tmp_path, teacher)
    out = tmp_path / 'device.json'
    report = run_device_benchmark(
        device='cpu', joint_config=joint, student_config=student,
        batch_size=2, image_size=32, iters=1, warmup=1, out=str(out))
    assert json.loads(out.read_text()) == json.loads(json.dumps(report))
    rows = report['rows']
    assert list(rows) == [f'{v}/{p}' for v in VARIANTS for p in PRECISIONS]
    for row in rows.values():
        assert row['img_per_s'] > 0 and row['ms_per_step'] > 0
        assert row['img_per_s'] == pytest.approx(
            2 / (row['ms_per_step'] / 1000))
        assert row['peak_memory_mb'] is None  # no GPU: no device memory
    assert rows['student_plain/bf16']['vs_plain_same_precision'] == 1.0
    assert rows['joint_cached/fp32']['vs_plain_same_precision'] == \
        pytest.approx(rows['joint_cached/fp32']['img_per_s'] /
                      rows['student_plain/fp32']['img_per_s'])
    # targets are GPU targets: not judged from CPU figures
    assert {k: v['met'] for k, v in report['verdicts'].items()} == dict(
        student_cached_vs_plain_fp32=None, student_cached_vs_plain_bf16=None,
        plain_bf16_vs_fp32=None, plain_bf16_img_s=None)
    table = (tmp_path / 'device.md').read_text()
    assert table == format_device_report(report) + '\n'
    assert sum(line.startswith('| ') for line in table.splitlines()) == 11
    assert '| MLFD student, joint outputs cached | bf16 |' in table


def test_device_benchmark_refuses_cuda_without_a_gpu(tmp_path):
    if torch.cuda.is_available():
        pytest.skip('a GPU is visible')
    with pytest.raises(RuntimeError, match='--device cuda: no CUDA device'):
        run_device_benchmark(device='cuda', out=str(tmp_path / 'x.json'))
    with pytest.raises(ValueError, match=r"unknown variants/precisions "
                       r"\['student_fast'\]"):
        run_device_benchmark(device='cpu', variants=['student_fast'],
                             out=str(tmp_path / 'x.json'))


def test_loaders_pin_memory_only_where_cuda_is_visible(monkeypatch):
    from mmengine.config import Config
    from mlfd_mm.apis.device_training import pin_loaders_on_gpu
    cfg = Config(dict(train_dataloader=dict(batch_size=2),
                      val_dataloader=dict(batch_size=2, pin_memory=False),
                      test_dataloader=None))
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    assert pin_loaders_on_gpu(cfg) == []
    assert 'pin_memory' not in cfg.train_dataloader
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    assert pin_loaders_on_gpu(cfg) == ['train_dataloader']
    assert cfg.train_dataloader.pin_memory is True
    assert cfg.val_dataloader.pin_memory is False  # the config's own wins


@pytest.mark.slow
def test_deferred_runtime_info_hook_logs_what_the_stock_one_does(
        tmp_path, teacher):
    """Trained with either hook (2 epochs of 3 iterations, logger every 2),
    the message hub ends up with the same loss history; on CUDA
    tools/train.py puts the deferred one in place."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    from conftest import distiller_config, make_image_folder
    from mlfd_mm.apis.device_training import defer_log_reads_on_gpu
    data = make_image_folder(tmp_path / 'data')
    history = {}
    for kind in ('RuntimeInfoHook', 'DeferredRuntimeInfoHook'):
        cfg = distiller_config(teacher, data, tmp_path / kind, max_epochs=2)
        cfg['default_hooks'].update(
            runtime_info=dict(type=kind),
            logger=dict(type='LoggerHook', interval=2))
        cfg.update(custom_hooks=[], val_cfg=None, val_dataloader=None,
                   val_evaluator=None)
        cfg['default_hooks']['checkpoint'] = dict(type='CheckpointHook',
                                                  interval=100)
        # Its own message hub: mmengine names the hub after the experiment,
        # by default the start time to the second, and two runners started
        # in the same second would share one history.
        cfg['experiment_name'] = kind
        runner = Runner.from_cfg(Config(cfg))
        runner.train()
        hub = runner.message_hub
        history[kind] = {
            key: hub.get_scalar(key).data[0].tolist()
            for key in ('train/loss', 'train/loss_kd', 'train/loss_ce')}
    assert len(history['RuntimeInfoHook']['train/loss']) == 6
    assert history['DeferredRuntimeInfoHook'] == history['RuntimeInfoHook']

    cfg = Config(dict(default_hooks=dict(logger=dict(type='LoggerHook'))))
    assert defer_log_reads_on_gpu(cfg) is torch.cuda.is_available()


def test_deferred_runtime_info_hook_reads_once_per_logging_interval(
        count_waits):
    """Five iterations of 3 per epoch, logger every 2: the values reach the
    hub at iterations 2, 3 (end of epoch) and 5, read back once each time;
    the hub then holds what the stock hook gives it."""
    from types import SimpleNamespace

    from mmengine.hooks import LoggerHook, RuntimeInfoHook
    from mmengine.logging import MessageHub

    from mlfd_mm.engine import DeferredRuntimeInfoHook

    def runner(name):
        return SimpleNamespace(
            message_hub=MessageHub.get_instance(name),
            train_dataloader=[None] * 3, hooks=[LoggerHook(interval=2)])

    outputs = [dict(loss=torch.tensor(0.5 + i), count=torch.tensor(i),
                    note=7.0) for i in range(5)]
    stock, deferred = runner('gpu_path_stock'), runner('gpu_path_deferred')
    hook = DeferredRuntimeInfoHook()
    hook._interval = 2  # what before_train reads from the LoggerHook
    calls = count_waits()
    seen = []
    for i, out in enumerate(outputs):
        batch_idx = i % 3
        RuntimeInfoHook.after_train_iter(RuntimeInfoHook(), stock,
                                         batch_idx, outputs=out)
        before = len(calls)
        hook.after_train_iter(deferred, batch_idx, outputs=out)
        seen.append(len(deferred.message_hub.log_scalars.get(
            'train/loss', SimpleNamespace(data=[[]])).data[0]))
        assert calls.count('tolist') - before <= 1
    assert seen == [0, 2, 3, 3, 5]
    assert calls.count('tolist') == 3
    for key in ('train/loss', 'train/count', 'train/note'):
        assert deferred.message_hub.get_scalar(key).data[0].tolist() == \
            stock.message_hub.get_scalar(key).data[0].tolist()


def test_kd_loss_keeps_fp32_targets_for_bf16_logits():
    """Under bf16 autocast the student's logits are bf16: the KD target
    (and the loss) stay fp32, exactly the loss of the upcast logits."""
    from mlfd_mm.models.losses import KDLoss
    torch.manual_seed(0)
    student = torch.randn(4, 7).to(torch.bfloat16)
    teacher = torch.randn(4, 7) * 3
    kd = KDLoss(temperature=2.0)
    loss = kd(student, teacher)
    assert loss.dtype == torch.float32
    assert torch.equal(loss, kd(student.float(), teacher))


def test_labels_go_to_the_device_in_one_copy_before_the_preprocessor():
    """The pre-hook puts every sample's label on the preprocessor's device
    (the meta device stands in for a GPU here) as views of one tensor;
    on the CPU, and for labels already moved, it does nothing."""
    from types import SimpleNamespace

    from mlfd_mm.apis.device_training import labels_to_device_first
    data = dict(inputs=None, data_samples=samples([0, 3, 1], 'shapes'))
    cpu_labels = [s.gt_label for s in data['data_samples']]
    labels_to_device_first(SimpleNamespace(device=torch.device('cpu')),
                           (data, True))
    assert [s.gt_label for s in data['data_samples']] == cpu_labels
    meta = SimpleNamespace(device=torch.device('meta'))
    labels_to_device_first(meta, (data, True))
    moved = [s.gt_label for s in data['data_samples']]
    assert [(t.device.type, tuple(t.shape)) for t in moved] == \
        [('meta', (1, ))] * 3
    assert moved[0]._base is not None and \
        moved[0]._base is moved[2]._base  # views of one copied tensor
    labels_to_device_first(meta, (data, True))  # already there: unchanged
    assert all(a is b for a, b in zip(
        moved, [s.gt_label for s in data['data_samples']]))


def test_cached_rows_go_to_a_gpu_pinned_and_without_waiting(monkeypatch):
    """The feature caches' readers stack each batch's cached rows once and,
    on a GPU, copy them from pinned memory with non_blocking=True (a copy
    from pageable memory makes the host wait). Checked on CPU with the
    CUDA calls recorded."""
    import numpy as np
    from mlfd_mm.cache.reader import FEATURES_FIELD, carried_to_device
    from mmpretrain.structures import DataSample
    rows = [np.arange(6, dtype=np.float16) + i for i in range(3)]
    samples = []
    for row in rows:
        sample = DataSample()
        sample.set_field(row, FEATURES_FIELD)
        samples.append(sample)
    out = carried_to_device(samples, torch.device('cpu'))
    assert out.dtype == torch.float16 and out.shape == (3, 6)
    assert torch.equal(out, torch.from_numpy(np.stack(rows)))
    calls = []
    monkeypatch.setattr(torch.Tensor, 'pin_memory',
                        lambda self: calls.append('pin') or self)
    monkeypatch.setattr(torch.Tensor, 'to', lambda self, *a, **k: calls.append(
        (str(a[0]), k.get('non_blocking'))) or self)
    carried_to_device(samples, torch.device('cuda', 0))
    assert calls == ['pin', ('cuda:0', True)]
