"""Training throughput on a device (tools/benchmark.py --device cuda): the
five training steps of MLFD at T1 scale, each in fp32 and in bf16 autocast,
side by side in one run, on synthetic 224 px batches.

Variants (each built, warmed up and timed in turn, then freed):

- ``student_plain``: the student's stock mmpretrain model, supervised (the
  floor); NHWC on CUDA, as ``tools/train.py --channels-last`` makes it;
- ``student_online``: the MLFD student with its joint teacher running;
- ``student_cached``: the MLFD student fed what the joint-output cache
  holds (the joint teacher's maps at the distilled levels and its logits
  for the student's dataset, float16), no teacher built;
- ``joint_online``: the joint teacher's step, teachers running;
- ``joint_cached``: the joint teacher's step fed its teachers' maps
  (float16) as the teacher-feature cache would.

The cached variants get their float16 tensors from a stand-in
(:class:`SyntheticJointOutputs`, :class:`SyntheticTeacherMaps`): one
stacked tensor per batch, computed once by the real teachers on the
synthetic batch and kept in pinned host memory, copied to the device each
step with ``non_blocking=True`` and upcast there. The project's readers
(``CachedJointOutputs``, ``CachedTeacherFeatures``) instead stack one numpy
row per sample on the host in the training process; that host cost is not
in these figures (``tools/benchmark.py --cache-reads`` measures reads).

Each step is mmengine's ``train_step`` (data preprocessor with the uint8
batch's copy from pinned memory, forward, backward, optimiser step) with
``OptimWrapper`` (fp32) or :class:`AutocastOptimWrapper` (bf16, no loss
scaler), the path ``tools/train.py [--amp]`` takes. Timed windows are
bracketed by ``torch.cuda.synchronize``; nothing inside them synchronises
on purpose. Peak memory is ``torch.cuda.max_memory_allocated`` from the
variant's build to the end of its timed steps (reset before each
precision).

On the CPU the same code runs (``--device cpu --batch-size 2
--image-size 64``), which is how the tests check it; CPU figures say
nothing about a GPU.
"""
import copy
import os
import os.path as osp
import platform
import time
from typing import Dict, List, Optional

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.registry import MODELS, init_default_scope
from mmpretrain.structures import DataSample

from ...atomic_files import atomic_write_json, atomic_write_text
from ..device_training import labels_to_device_first
from ...config import complete_config, resolve_model_config
from ...engine import AutocastOptimWrapper
from ...models.device_format import to_channels_last
from ...models.distillers.student import student_data_preprocessor
from .run import _student_model_cfg
from .variants import joint_model_cfg

VARIANTS = ('student_plain', 'student_online', 'student_cached',
            'joint_online', 'joint_cached')
PRECISIONS = ('fp32', 'bf16')
LABELS = dict(
    student_plain='plain student (supervised)',
    student_online='MLFD student, joint teacher online',
    student_cached='MLFD student, joint outputs cached',
    joint_online='joint teacher, teachers online',
    joint_cached='joint teacher, teacher maps cached')
# The targets on one H200 at T1 scale (224 px, batch 128).
DEVICE_TARGETS = dict(
    student_cached_vs_plain=0.9,  # img/s ratio, each precision, >=
    plain_bf16_vs_fp32=1.8,  # img/s ratio, >=
    plain_bf16_img_s=10000)  # img/s, >=, one H200 at 224 px, batch 128


class SyntheticJointOutputs(nn.Module):
    """Stands in for an MLFD student's joint teacher with what the
    joint-output cache holds: float16 maps at the distilled levels and the
    logits of the student's dataset, copied to the device per call.

    Args:
        features (list[Tensor | None]): Per joint level, (B, C, H, W)
            float16 (None where not distilled).
        logits (list[Tensor | None]): Per dataset, (B, K) float16 (None but
            the student's).
    """

    def __init__(self, features, logits):
        super().__init__()
        self.stored_features = list(features)
        self.stored_logits = list(logits)

    @staticmethod
    def _read(tensor, device):
        if tensor is None:
            return None
        return tensor.to(device, non_blocking=True).float()

    def forward(self, inputs, data_samples=None, mode='tensor'):
        device = inputs.device
        return dict(
            features=[self._read(f, device) for f in self.stored_features],
            logits=[self._read(z, device) for z in self.stored_logits])


class SyntheticTeacherMaps:
    """Stands in for a JointTeacher's ``feature_cache``: every teacher's
    float16 maps, copied to the device per call (``feats[t][l]``)."""

    def __init__(self, maps):
        self.maps = maps

    def __call__(self, teachers, inputs, data_samples):
        return [[m.to(inputs.device, non_blocking=True).float() for m in per]
                for per in self.maps]


def _host_copy(tensor: torch.Tensor, pin: bool) -> torch.Tensor:
    """A float16 host copy (pinned for a CUDA run)."""
    out = tensor.detach().to('cpu', torch.float16)
    return out.pin_memory() if pin else out


def synthetic_batch(batch_size: int, image_size: int, datasets: List[tuple],
                    pin: bool, seed: int) -> dict:
    """Random uint8 images, one stacked (N, 3, S, S) tensor as a loader with
    ``stack_collate`` hands it over (pinned for a CUDA run), and data samples
    labelled in turn from ``datasets`` ((name, num_classes) pairs)."""
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randint(0, 256, (batch_size, 3, image_size, image_size),
                           dtype=torch.uint8, generator=generator)
    samples = []
    for i in range(batch_size):
        name, classes = datasets[i % len(datasets)]
        sample = DataSample().set_gt_label(
            int(torch.randint(classes, (1, ), generator=generator)))
        sample.set_metainfo(dict(dataset_name=name))
        samples.append(sample)
    return dict(inputs=inputs.pin_memory() if pin else inputs,
                data_samples=samples)


def _synchronize(device: torch.device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def _optim_wrapper(model: nn.Module, precision: str, device: torch.device,
                   adamw: bool):
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.05) \
        if adamw else torch.optim.SGD(params, lr=0.01, momentum=0.9,
                                      weight_decay=5e-4)
    if precision == 'bf16':
        return AutocastOptimWrapper(optimizer=optimizer,
                                    device_type=device.type)
    return OptimWrapper(optimizer=optimizer)


class DeviceVariants:
    """Builders of the five variants on one device.

    Args:
        joint_cfg (dict): The JointTeacher model config (random teachers).
        student_cfg (dict): The MLFDDistiller model config.
        device (torch.device): Where the steps run.
        batch_size (int), image_size (int), seed (int): The synthetic batch.
    """

    def __init__(self, joint_cfg, student_cfg, device, batch_size,
                 image_size, seed):
        self.joint_cfg = joint_cfg
        self.student_cfg = student_cfg
        self.device = device
        self.batch_size = batch_size
        self.image_size = image_size
        self.seed = seed
        self.pin = device.type == 'cuda'

    def build(self, name: str):
        """``(model, batch, adamw)`` of variant ``name``, on the device."""
        torch.manual_seed(self.seed)
        return getattr(self, '_' + name)()

    # -- models -------------------------------------------------------
    def _student_dataset(self):
        cfg = self.student_cfg
        return [(cfg['dataset'], self._student_classes)]

    def _distiller(self):
        cfg = copy.deepcopy(self.student_cfg)
        cfg['teacher'] = dict(config=copy.deepcopy(self.joint_cfg),
                              checkpoint=None)
        cfg.pop('joint_output_cache', None)
        model = MODELS.build(cfg)
        self._student_classes = model.student_side.num_classes
        return model.to(self.device)

    def _batch(self, datasets):
        return synthetic_batch(self.batch_size, self.image_size, datasets,
                               self.pin, self.seed)

    def _student_plain(self):
        student, _ = resolve_model_config(self.student_cfg['student'],
                                          'student')
        student['data_preprocessor'] = student_data_preprocessor(
            student, self.student_cfg.get('data_preprocessor'))
        model = MODELS.build(student).to(self.device)
        if self.device.type == 'cuda':
            to_channels_last(model)  # as tools/train.py --channels-last
        head = getattr(model, 'head', None)
        classes = int(getattr(head, 'num_classes', 10))
        self._prepare(model)
        return model, self._batch([(self.student_cfg['dataset'], classes)]), \
            False

    def _student_online(self):
        model = self._distiller()
        self._prepare(model)
        return model, self._batch(self._student_dataset()), False

    def _student_cached(self):
        model = self._distiller()
        self._prepare(model)
        batch = self._batch(self._student_dataset())
        with torch.no_grad():
            data = model.data_preprocessor(batch, False)
            out = model._teacher_outputs(data['inputs'], data['data_samples'])
        levels = {level for _, level in model.pairs} \
            if model.loss_weights['feature'] > 0 else set()
        features = [_host_copy(f, self.pin) if i in levels else None
                    for i, f in enumerate(out['features'])]
        logits = [_host_copy(z, self.pin) if i == model.dataset_index else
                  None for i, z in enumerate(out['logits'])]
        del out, data
        model.teacher = SyntheticJointOutputs(features, logits)
        self._free()
        return model, batch, False

    def _joint(self):
        model = MODELS.build(copy.deepcopy(self.joint_cfg)).to(self.device)
        self._prepare(model)
        datasets = list(zip(model.dataset_names, model.num_classes))
        return model, self._batch(datasets)

    def _joint_online(self):
        model, batch = self._joint()
        return model, batch, True

    def _joint_cached(self):
        model, batch = self._joint()
        with torch.no_grad():
            inputs = model.data_preprocessor(batch, False)['inputs']
            maps = [[_host_copy(m, self.pin) for m in teacher(inputs)]
                    for teacher in model.teachers]
        del inputs
        model.feature_cache = SyntheticTeacherMaps(maps)
        self._free()
        return model, batch, True

    def _prepare(self, model):
        # As tools/train.py does on CUDA (copy_batches_without_waiting).
        # The same batch object serves every step: after the first, its
        # labels are on the device already.
        if self.device.type == 'cuda':
            model.data_preprocessor._non_blocking = True
            model.data_preprocessor.register_forward_pre_hook(
                labels_to_device_first)
        model.train()

    def _free(self):
        if self.device.type == 'cuda':
            torch.cuda.empty_cache()


def _measure(model, batch, adamw, precision, device, iters, warmup):
    """ms per step and peak memory of ``iters`` timed ``train_step`` calls
    after ``warmup`` untimed ones."""
    wrapper = _optim_wrapper(model, precision, device, adamw)
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
    for _ in range(warmup):
        model.train_step(batch, wrapper)
    _synchronize(device)
    start = time.perf_counter()
    for _ in range(iters):
        model.train_step(batch, wrapper)
    _synchronize(device)
    seconds = (time.perf_counter() - start) / iters
    peak = torch.cuda.max_memory_allocated(device) / 2**20 \
        if device.type == 'cuda' else None
    return dict(ms_per_step=1000 * seconds,
                img_per_s=batch['inputs'].size(0) / seconds,
                peak_memory_mb=peak)


def device_verdicts(rows: dict, on_gpu: bool, t1_scale: bool) -> dict:
    """The issue's targets against the measured rows; ``met`` is None where
    they do not apply (not a GPU; the img/s target: not T1 scale)."""
    def img_s(variant, precision):
        return rows[f'{variant}/{precision}']['img_per_s']

    def verdict(value, target, applies=True):
        return dict(value=value, target=target,
                    met=(value >= target) if on_gpu and applies else None)

    out = {}
    for precision in PRECISIONS:
        out[f'student_cached_vs_plain_{precision}'] = verdict(
            img_s('student_cached', precision) /
            img_s('student_plain', precision),
            DEVICE_TARGETS['student_cached_vs_plain'])
    out['plain_bf16_vs_fp32'] = verdict(
        img_s('student_plain', 'bf16') / img_s('student_plain', 'fp32'),
        DEVICE_TARGETS['plain_bf16_vs_fp32'])
    out['plain_bf16_img_s'] = verdict(img_s('student_plain', 'bf16'),
                                      DEVICE_TARGETS['plain_bf16_img_s'],
                                      applies=t1_scale)
    return out


def run_device_benchmark(device='cuda',
                         joint_config='configs/mlfd/joint_t1.py',
                         student_config='configs/mlfd/student_t1_cifar100.py',
                         batch_size=128, image_size=224, iters=20, warmup=5,
                         variants=VARIANTS, precisions=PRECISIONS,
                         cudnn_benchmark=True, threads=None, seed=0,
                         out='work_dirs/benchmark/device.json',
                         command=None) -> dict:
    """Measure the variants' img/s and peak device memory; write the report
    as JSON (and the table as markdown next to it).

    Args:
        device (str): 'cuda', 'cuda:1' or 'cpu'.
        joint_config (str): A JointTeacher config (teachers get random
            weights: timings do not depend on them).
        student_config (str): An MLFD student config of one of its datasets.
        batch_size (int): Images per step.
        image_size (int): Side of the synthetic square images.
        iters (int): Timed steps per variant and precision.
        warmup (int): Untimed steps before them.
        variants (Sequence[str]): A subset of :data:`VARIANTS`.
        precisions (Sequence[str]): A subset of :data:`PRECISIONS`.
        cudnn_benchmark (bool): ``torch.backends.cudnn.benchmark`` during
            the run (fixed shapes: cuDNN picks its fastest kernels).
        threads (int, optional): torch CPU threads.
        seed (int): Seeds weights and batches.
        out (str): The JSON report; the markdown table goes to the same
            name with ``.md``.
        command (str, optional): Recorded in the report.

    Returns:
        dict: The report; ``rows['<variant>/<precision>']`` holds
        ``ms_per_step``, ``img_per_s``, ``peak_memory_mb`` (None on CPU).
    """
    settings = dict(locals())
    device = torch.device(device)
    unknown = sorted(set(variants) - set(VARIANTS)) + sorted(
        set(precisions) - set(PRECISIONS))
    if unknown:
        raise ValueError(f'unknown variants/precisions {unknown}; known: '
                         f'{list(VARIANTS)} and {list(PRECISIONS)}')
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise RuntimeError(f'--device {device}: no CUDA device is visible '
                           'here; use --device cpu for a dry run')
    if threads:
        torch.set_num_threads(threads)
    started = time.perf_counter()
    cfg = complete_config(Config.fromfile(joint_config), 'none')
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    joint_cfg, teacher_weights = joint_model_cfg(cfg, {})
    builder = DeviceVariants(joint_cfg, _student_model_cfg(student_config),
                             device, batch_size, image_size, seed)
    previous = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = bool(cudnn_benchmark)
    rows = {}
    try:
        for name in variants:
            print(f'{name} ...', flush=True)
            model, batch, adamw = builder.build(name)
            for precision in precisions:
                rows[f'{name}/{precision}'] = dict(
                    variant=name, precision=precision,
                    **_measure(model, batch, adamw, precision, device, iters,
                               warmup))
            del model, batch
            builder._free()
    finally:
        torch.backends.cudnn.benchmark = previous
    if 'student_plain' in variants:
        for key, row in rows.items():
            floor = rows.get(f'student_plain/{row["precision"]}')
            row['vs_plain_same_precision'] = row['img_per_s'] / \
                floor['img_per_s'] if floor else None
    t1_scale = (device.type == 'cuda' and image_size == 224
                and batch_size == 128)
    report = dict(
        command=command, settings=settings,
        environment=dict(
            torch=torch.__version__, python=platform.python_version(),
            device=torch.cuda.get_device_name(device)
            if device.type == 'cuda' else platform.processor() or 'cpu',
            cuda=torch.version.cuda, threads=torch.get_num_threads(),
            teacher_weights=teacher_weights),
        rows=rows, elapsed_s=time.perf_counter() - started)
    if set(VARIANTS) <= set(variants) and set(PRECISIONS) <= set(precisions):
        report['verdicts'] = device_verdicts(rows, device.type == 'cuda',
                                             t1_scale)
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    atomic_write_json(out, report, indent=1)
    atomic_write_text(osp.splitext(out)[0] + '.md',
                      format_device_report(report) + '\n')
    return report


def format_device_report(report: dict) -> str:
    """The report as a markdown table (one row per variant and
    precision), with the verdicts under it."""
    settings = report['settings']
    lines = [
        f'{report["environment"]["device"]}, batch '
        f'{settings["batch_size"]}, {settings["image_size"]} px, '
        f'{settings["iters"]} timed steps after {settings["warmup"]}',
        '',
        '| variant | precision | ms/step | img/s | vs plain (same precision) '
        '| peak memory MB |',
        '|---|---|---|---|---|---|']
    for row in report['rows'].values():
        ratio = row.get('vs_plain_same_precision')
        peak = row['peak_memory_mb']
        lines.append(
            f'| {LABELS[row["variant"]]} | {row["precision"]} | '
            f'{row["ms_per_step"]:.1f} | {row["img_per_s"]:,.0f} | '
            f'{"-" if ratio is None else f"{ratio:.2f}"} | '
            f'{"-" if peak is None else f"{peak:,.0f}"} |')
    for key, verdict in report.get('verdicts', {}).items():
        met = verdict['met']
        said = ('not applicable (not a GPU, or not T1 scale)'
                if met is None else 'met' if met else 'MISSED')
        lines.append(f'- {key}: {verdict["value"]:,.2f} (target >= '
                     f'{verdict["target"]:,}): {said}')
    return '\n'.join(lines)
