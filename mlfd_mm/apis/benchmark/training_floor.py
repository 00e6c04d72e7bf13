"""The project's plain training against a hand-written PyTorch loop (the
floor): the same model, data, batch and loader worker count, wall time per
sample over whole epochs, loader included.

- ``plain_pytorch``: the config's dataset (same pipeline) in a
  ``torch.utils.data.DataLoader`` whose workers stack the images and labels
  into two tensors; the model's backbone, neck and head called directly, the
  config's mean/std applied by hand, ``F.cross_entropy``, ``torch.optim.SGD``
  with the config's optimiser settings.
- ``project`` (and any variant given as config overrides): mmengine's
  Runner built from the config as ``tools/train.py`` builds it, with its
  own train dataloader and default hooks; validation and checkpoint saving
  are switched off (the floor has neither).

Each measurement is a forked child that trains ``epochs`` epochs; the first
is a warm-up (loader workers starting, first allocations), the rest are
timed, epoch boundaries included. The variants alternate over ``rounds``
(AB, BA, ...), and the ratio is that of the medians. Per iteration the
time is split into the step (forward, backward, optimiser step and, in the
Runner, the after-iteration hooks) and the rest (waiting for the loader and
receiving the batch, before-iteration hooks).
"""
import copy
import os.path as osp
import shutil
import statistics
import tempfile
import time

import torch
import torch.nn.functional as F
from mmengine.hooks import Hook
from mmengine.registry import DATASETS, MODELS, init_default_scope

from ...atomic_files import atomic_write_json
from ..runner import load_config, prepare_run
from .measures import in_forked_child

# The project's plain training is to cost at most this much per sample
# against the hand-written loop (wall time).
FLOOR_TARGET = 1.05
FLOOR = 'plain_pytorch'


class _Clock:
    """Timestamps (wall, this process's CPU) at the start and end of each
    training step."""

    def __init__(self):
        self.starts, self.ends = [], []

    def start(self):
        self.starts.append((time.perf_counter(), time.process_time()))

    def end(self):
        self.ends.append((time.perf_counter(), time.process_time()))

    def summary(self, warmup_iters: int, samples: int) -> dict:
        """Figures over the iterations after ``warmup_iters`` (which
        covered ``samples`` samples)."""
        if len(self.ends) <= warmup_iters:
            raise RuntimeError(
                f'{len(self.ends)} iterations ran, not more than the '
                f'{warmup_iters} of the warm-up epoch: nothing to time')
        (w0, c0), (w1, c1) = self.ends[warmup_iters - 1], self.ends[-1]
        steps = [e[0] - s[0] for s, e in zip(self.starts[warmup_iters:],
                                              self.ends[warmup_iters:])]
        gaps = [s[0] - e[0] for s, e in zip(self.starts[warmup_iters:],
                                             self.ends[warmup_iters - 1:])]
        return dict(
            iterations=len(self.ends) - warmup_iters, samples=samples,
            wall_s=w1 - w0, cpu_s=c1 - c0,
            wall_ms_per_sample=1000 * (w1 - w0) / samples,
            cpu_ms_per_sample=1000 * (c1 - c0) / samples,
            step_ms=1000 * statistics.median(steps),
            between_steps_ms=1000 * statistics.median(gaps),
            between_steps_mean_ms=1000 * statistics.mean(gaps))


def _floor_collate(batch):
    """Images stacked, labels as one tensor (in the loader worker)."""
    images = torch.stack([item['inputs'] for item in batch])
    labels = torch.cat([item['data_samples'].gt_label for item in batch])
    return images, labels


def _loader_settings(cfg) -> dict:
    loader = cfg.train_dataloader
    workers = int(loader.get('num_workers', 0))
    return dict(num_workers=workers,
                persistent_workers=bool(loader.get('persistent_workers',
                                                   False)) and workers > 0,
                pin_memory=bool(loader.get('pin_memory', False)))


def _plain_pytorch(config, cfg_options, batch_size, epochs, seed, threads):
    """The hand-written loop; returns its clock's summary."""
    torch.set_num_threads(threads)
    cfg = load_config(config, cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    torch.manual_seed(seed)
    dataset = DATASETS.build(copy.deepcopy(cfg.train_dataloader.dataset))
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, shuffle=True,
        collate_fn=_floor_collate, **_loader_settings(cfg))
    model = MODELS.build(copy.deepcopy(cfg.model)).train()
    prep = cfg.get('data_preprocessor') or cfg.model.get(
        'data_preprocessor') or {}
    mean = torch.tensor(prep['mean'], dtype=torch.float32).view(1, -1, 1, 1)
    std = torch.tensor(prep['std'], dtype=torch.float32).view(1, -1, 1, 1)
    flip = bool(prep.get('to_rgb') or prep.get('bgr_to_rgb'))
    optim = dict(cfg.optim_wrapper.optimizer)
    if optim.pop('type') != 'SGD':
        raise ValueError(f'{config}: the floor loop knows only SGD, the '
                         f'config uses {cfg.optim_wrapper.optimizer.type}')
    optimizer = torch.optim.SGD(model.parameters(), **optim)
    clock = _Clock()
    for _ in range(epochs):
        for images, labels in loader:
            clock.start()
            x = images.float()
            if flip:
                x = x.flip(1)
            x = (x - mean) / std
            loss = F.cross_entropy(model.head(model.extract_feat(x)), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            clock.end()
    return clock.summary(len(loader), (epochs - 1) * len(dataset))


class _ClockHook(Hook):
    priority = 'LOWEST'

    def __init__(self, clock):
        self.clock = clock

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.clock.start()

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.clock.end()


def _project(config, cfg_options, batch_size, epochs, seed, threads):
    """mmengine's Runner on the config's own loader; its clock's summary."""
    from mmengine.runner import Runner
    torch.set_num_threads(threads)
    work_dir = tempfile.mkdtemp(prefix='mlfd_floor_')
    try:
        cfg = load_config(config, cfg_options, work_dir=work_dir)
        cfg.train_dataloader.batch_size = batch_size
        cfg.train_cfg.max_epochs = epochs
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
        cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
        cfg.default_hooks.checkpoint = None
        cfg.randomness = dict(seed=seed)
        cfg.log_level = 'WARNING'
        prepare_run(cfg, ['train_dataloader'])
        runner = Runner.from_cfg(cfg)
        clock = _Clock()
        runner.register_hook(_ClockHook(clock))
        runner.train()
        dataset = runner.train_dataloader.dataset
        return clock.summary(len(runner.train_dataloader),
                             (epochs - 1) * len(dataset))
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def training_floor(config='configs/teachers/offline_mnist_resnet18.py',
                   variants=None, batch_size=64, epochs=3, rounds=3,
                   threads=1, seed=0, data_root=None) -> dict:
    """Measure the project's plain training against the hand-written loop.

    Args:
        config (str): a plain (ImageClassifier, SGD) training config.
        variants (dict, optional): name -> ``--cfg-options``-style overrides
            of the project's runs; default ``{'project': {}}`` (the config
            as it is).
        batch_size (int): samples per step, in every variant.
        epochs (int): epochs per measurement, the first untimed.
        rounds (int): measurements per variant, alternated.
        threads (int): torch threads of the training process.
        seed (int): seeds the weights and the sampling.
        data_root (str, optional): overrides the config's training data
            root (in every variant).

    Returns:
        dict: per variant the rounds' figures and their medians, the ratio
        of each project variant's wall (and CPU) time per sample to the
        floor's, and the verdict against ``FLOOR_TARGET``.
    """
    if epochs < 2:
        raise ValueError(f'epochs must be >= 2 (the first is untimed), got '
                         f'{epochs}')
    if not osp.isfile(config):
        raise FileNotFoundError(f'training floor: no config file {config}')
    variants = {'project': {}} if variants is None else dict(variants)
    if FLOOR in variants:
        raise ValueError(f'{FLOOR!r} is the floor, not a project variant')
    common = {}
    if data_root is not None:
        common['train_dataloader.dataset.data_root'] = data_root
    runs = {FLOOR: lambda: _plain_pytorch(config, dict(common), batch_size,
                                          epochs, seed, threads)}
    for name, options in variants.items():
        runs[name] = (lambda options=options: _project(
            config, dict(common, **copy.deepcopy(options)), batch_size,
            epochs, seed, threads))
    figures = {name: [] for name in runs}
    names = list(runs)
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            print(f'  training floor: round {r + 1}/{rounds}, {name} ...',
                  flush=True)
            figures[name].append(in_forked_child(runs[name],
                                                 f'training floor {name}'))
    keys = ('wall_ms_per_sample', 'cpu_ms_per_sample', 'step_ms',
            'between_steps_ms')
    out = dict(config=config, data_root=data_root, batch_size=batch_size,
               epochs=epochs,
               timed_epochs=epochs - 1, rounds=rounds, threads=threads,
               overrides={k: v for k, v in variants.items()},
               target=FLOOR_TARGET, variants={})
    for name, rows in figures.items():
        entry = {k: statistics.median(row[k] for row in rows) for k in keys}
        entry['rounds'] = rows
        out['variants'][name] = entry
    floor = out['variants'][FLOOR]
    for name in variants:
        entry = out['variants'][name]
        entry['wall_ratio'] = (entry['wall_ms_per_sample'] /
                               floor['wall_ms_per_sample'])
        entry['cpu_ratio'] = (entry['cpu_ms_per_sample'] /
                              floor['cpu_ms_per_sample'])
        # each round's ratio to the floor's measurement of the same round
        entry['round_wall_ratios'] = [
            a['wall_ms_per_sample'] / b['wall_ms_per_sample']
            for a, b in zip(entry['rounds'], floor['rounds'])]
        entry['verdict'] = floor_verdict(entry['wall_ratio'])
    return out


def receive_costs(config='configs/teachers/offline_mnist_resnet18.py',
                  collates=('pseudo_collate', 'stack_collate'),
                  batch_size=64, batches=10, data_root=None,
                  wait=0.5) -> dict:
    """This process's CPU milliseconds to take one batch from a loader
    worker that has it ready (the worker is given ``wait`` seconds first),
    median over ``batches``: for the floor's collate (images and labels
    stacked) and for each ``collate_fn`` type of ``collates``, on the
    config's training dataset."""
    from functools import partial

    from mmengine.registry import FUNCTIONS
    cfg = load_config(config, None if data_root is None else {
        'train_dataloader.dataset.data_root': data_root})
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    dataset = DATASETS.build(copy.deepcopy(cfg.train_dataloader.dataset))
    functions = {FLOOR: _floor_collate}
    functions.update({name: partial(FUNCTIONS.get(name)) for name in collates})
    out = {}
    for name, function in functions.items():
        loader = torch.utils.data.DataLoader(
            dataset, batch_size=batch_size, shuffle=True, num_workers=1,
            collate_fn=function)
        iterator, times = iter(loader), []
        next(iterator)
        for _ in range(min(batches, len(loader) - 1)):
            time.sleep(wait)
            start = time.process_time()
            next(iterator)
            times.append(time.process_time() - start)
        del iterator
        out[name] = 1000 * statistics.median(times)
    return out


def floor_verdict(ratio: float) -> str:
    """``ratio`` against ``FLOOR_TARGET``, in words."""
    if ratio <= FLOOR_TARGET:
        return f'target <= {FLOOR_TARGET}: met'
    return f'target <= {FLOOR_TARGET}: MISSED by {ratio - FLOOR_TARGET:.2f}'


def format_training_floor(section: dict) -> str:
    """The section as the table the tool prints."""
    lines = [
        f'plain training against a hand-written PyTorch loop '
        f'({section["config"]}, batch {section["batch_size"]}, '
        f'{section["timed_epochs"]} timed epochs x {section["rounds"]} '
        f'rounds alternated, {section["threads"]} thread)',
        f'  {"variant":<24} {"wall ms/sample":>14} {"ratio":>6} '
        f'{"CPU ms/sample":>13} {"ratio":>6} {"step ms":>8} '
        f'{"between ms":>10}']
    for name, entry in section['variants'].items():
        lines.append(
            f'  {name:<24} {entry["wall_ms_per_sample"]:>14.3f} '
            f'{entry.get("wall_ratio", 1.0):>6.3f} '
            f'{entry["cpu_ms_per_sample"]:>13.3f} '
            f'{entry.get("cpu_ratio", 1.0):>6.3f} {entry["step_ms"]:>8.1f} '
            f'{entry["between_steps_ms"]:>10.1f}')
    receive = section.get('receive_cpu_ms_per_batch')
    if receive:
        lines.append('  taking a ready batch from the loader worker, this '
                     "process's CPU ms: " + ', '.join(
                         f'{k} {v:.2f}' for k, v in receive.items()))
    for name, entry in section['variants'].items():
        if 'verdict' in entry:
            lines.append(f'  {name} / {FLOOR} (wall) = '
                         f'{entry["wall_ratio"]:.3f}  ({entry["verdict"]}); '
                         'per round: ' + ', '.join(
                             f'{r:.3f}' for r in entry['round_wall_ratios']))
    return '\n'.join(lines)


def floor_variants(collates=('pseudo_collate', )) -> dict:
    """The project's variants: its config as it is, and the config with
    each ``collate_fn`` type of ``collates`` (e.g. the previous default
    ``pseudo_collate``, to see what the loader's collation costs)."""
    out = {'project': {}}
    for name in collates:
        out[f'project_{name}'] = {
            'train_dataloader.collate_fn': dict(type=name)}
    return out


def run_training_floor(out='work_dirs/benchmark/training_floor.json',
                       command=None, collates=('pseudo_collate', ),
                       **options) -> dict:
    """:func:`training_floor` alone (``tools/benchmark.py
    --training-floor``), with :func:`floor_variants` of ``collates``;
    writes the report as JSON."""
    started = time.perf_counter()
    report = training_floor(variants=floor_variants(collates), **options)
    report['receive_cpu_ms_per_batch'] = receive_costs(
        options.get('config', 'configs/teachers/offline_mnist_resnet18.py'),
        batch_size=options.get('batch_size', 64),
        data_root=options.get('data_root'))
    report.update(command=command,
                  elapsed_s=time.perf_counter() - started, out=out)
    atomic_write_json(out, report)
    return report
