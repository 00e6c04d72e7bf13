"""Teacher-feature cache on tiny random teachers and tiny image folders:
resume after a kill, stale-cache refusals, cached == online logits, the
dry run's disk check, the rank split, and training with no teacher
forward."""
import glob
import hashlib
import os.path as osp
import re
import shutil
from collections import namedtuple

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.registry import DATASETS, DefaultScope

from conftest import (PYTHON, run_tool, save_teacher_checkpoint, tiny_resnet,
                      tiny_resnet_cifar, write_image_folder)
from mlfd_mm.apis.feature_cache import cache_features
from mlfd_mm.cache import (CachedFeatureDataset, DatasetSource,
                           FeatureCacheWriter, InsufficientDiskSpaceError,
                           StaleCacheError, assign_shards, check_disk_space,
                           load_manifest)
from mlfd_mm.models import FrozenTeacher, JointTeacher

PIPELINE = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
NAMES = ['digits', 'shapes']


def tiny_model(backbone, num_classes):
    """At their two deepest levels (L2) for 32 px input: ResNet_CIFAR-18 of
    width 4 gives 16x8x8 and 32x4x4 maps, ResNet-18 of width 8 (with its own
    mean/std) 32x2x2 and 64x1x1."""
    if backbone == 'ResNet_CIFAR':
        return tiny_resnet_cifar(num_classes)
    return tiny_resnet(num_classes)


@pytest.fixture
def setup(tmp_path):
    """Two teachers with checkpoints and two image folders (12 and 10
    images)."""
    models = dict(digits=tiny_model('ResNet_CIFAR', 3),
                  shapes=tiny_model('ResNet', 5))
    teachers = []
    for seed, (name, cfg) in enumerate(models.items()):
        path = tmp_path / f'{name}.pth'
        save_teacher_checkpoint(cfg, path, seed)
        teachers.append(dict(name=name, config=cfg, checkpoint=str(path)))
    roots = dict(digits=write_image_folder(tmp_path / 'digits', 3, 4, 0),
                 shapes=write_image_folder(tmp_path / 'shapes', 5, 2, 1))
    # serialize_data=False: mmengine's serialisation runs gc.collect(), which
    # costs seconds per dataset in a process that imported the stack.
    datasets = [dict(type='CustomDataset', data_root=roots[n],
                     pipeline=PIPELINE, serialize_data=False,
                     _scope_='mmpretrain') for n in NAMES]
    return dict(tmp=tmp_path, teachers=teachers, models=models, roots=roots,
                wrapper=dict(type='MultiDatasetWrapper', names=NAMES,
                             datasets=datasets))


def make_joint(teachers, **kwargs):
    return JointTeacher(
        teachers=teachers, levels='L2',
        fusion=dict(type='ConcatFusionNeck', width=8), **kwargs)


def sources(setup, split='train'):
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        wrapper = DATASETS.build(setup['wrapper'])
    return {split: [DatasetSource(n, d, PIPELINE)
                    for n, d in zip(wrapper.names, wrapper.datasets)]}


def build_cache(setup, root, joint=None, dtype='float32', pool=None,
                shard_size=4, rank=0, world_size=1, force=False):
    joint = joint or make_joint(setup['teachers'])
    writer = FeatureCacheWriter(
        joint.teachers, str(root), joint.data_preprocessor, dtype=dtype,
        pool=pool, shard_size=shard_size, batch_size=2, progress=False)
    srcs = sources(setup)
    writer.prepare(srcs, force=force)
    return writer.write(srcs, rank=rank, world_size=world_size)


def shard_arrays(root):
    return {osp.relpath(p, root): np.fromfile(p, dtype=np.uint8)
            for p in sorted(glob.glob(f'{root}/train/**/*.bin',
                                      recursive=True))}


def cached_dataset(setup, root, split='train'):
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return CachedFeatureDataset(setup['wrapper'], root=str(root),
                                    split=split)


# ----------------------------------------------------------------------
def test_killed_build_resumes_to_identical_arrays(setup, monkeypatch):
    reference = setup['tmp'] / 'reference'
    assert build_cache(setup, reference) == 22
    expected = shard_arrays(str(reference))
    # 12 + 10 samples in shards of 4 -> 3 + 3 shards, one file each (every
    # teacher level in it).
    assert len(expected) == 6
    manifest = load_manifest(str(reference))
    assert manifest['splits']['train']['digits']['num_shards'] == 3

    resumed = setup['tmp'] / 'resumed'
    real_write_batch = FeatureCacheWriter._write_batch
    calls = []

    def dies_mid_shard(*args):
        calls.append(1)
        if len(calls) == 4:  # second batch of the second shard
            raise KeyboardInterrupt('killed')
        return real_write_batch(*args)

    monkeypatch.setattr(FeatureCacheWriter, '_write_batch',
                        staticmethod(dies_mid_shard))
    with pytest.raises(KeyboardInterrupt):
        build_cache(setup, resumed)
    monkeypatch.undo()

    manifest = load_manifest(str(resumed))
    assert manifest['shards']['train/digits/00000']['complete']
    assert 'train/digits/00001' not in manifest['shards']
    assert glob.glob(f'{resumed}/train/digits/00001.bin.partial')
    # The partial shard is never read: the split is refused as incomplete.
    with pytest.raises(RuntimeError, match=r'incomplete: shards \[1, 2\]'):
        cached_dataset(setup, resumed)

    # Resumed from the last complete shard: 22 - 4 samples left.
    assert build_cache(setup, resumed) == 18
    got = shard_arrays(str(resumed))
    assert sorted(got) == sorted(expected)
    for key, array in expected.items():
        assert np.array_equal(got[key], array), key
    assert not glob.glob(f'{resumed}/**/*.partial', recursive=True)
    assert len(cached_dataset(setup, resumed)) == 22


def test_changed_checkpoint_refuses_training(setup):
    root = setup['tmp'] / 'cache'
    build_cache(setup, root)
    # The 'shapes' teacher is retrained: same path, other weights.
    save_teacher_checkpoint(setup['models']['shapes'],
                    setup['teachers'][1]['checkpoint'], seed=7)

    from mmengine.runner import Runner
    loader = dict(
        batch_size=4, num_workers=0,
        dataset=dict(type='CachedFeatureDataset', root=str(root),
                     split='train', dataset=setup['wrapper']),
        sampler=dict(type='MultiDatasetSampler', ratio='uniform'))
    runner = Runner(
        model=dict(type='JointTeacher', teachers=setup['teachers'],
                   levels='L2', fusion=dict(type='ConcatFusionNeck', width=8),
                   feature_cache=dict(root=str(root))),
        work_dir=str(setup['tmp'] / 'work'), train_dataloader=loader,
        train_cfg=dict(by_epoch=False, max_iters=1),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook',
                                           interval=10)),
        default_scope='mmpretrain')
    with pytest.raises(StaleCacheError) as err:
        runner.train()
    message = str(err.value)
    assert "teacher 'shapes': checkpoint changed" in message
    assert 'digits' not in message
    assert '--force' in message

    # Rebuilding without --force refuses too; with it, training goes on.
    with pytest.raises(StaleCacheError, match="'shapes': checkpoint"):
        build_cache(setup, root)
    assert build_cache(setup, root, force=True) == 22
    joint = make_joint(setup['teachers'], feature_cache=dict(root=str(root)))
    batch = joint.data_preprocessor(
        pseudo_collate([cached_dataset(setup, root)[i] for i in (0, 15)]),
        True)
    losses = joint(batch['inputs'], batch['data_samples'], mode='loss')
    assert torch.isfinite(sum(losses.values()))


def test_changed_data_refuses(setup):
    root = setup['tmp'] / 'cache'
    build_cache(setup, root)
    # One image of 'digits' removed: 11 samples, not 12.
    gone = sorted(glob.glob(osp.join(setup['roots']['digits'], '*/*.png')))
    shutil.move(gone[0], str(setup['tmp'] / 'moved.png'))
    with pytest.raises(StaleCacheError,
                       match=r"dataset 'digits' \(split train\): data "
                       r'changed: 12 samples in the cache, 11 now'):
        cached_dataset(setup, root)


def test_cached_and_online_logits_match(setup):
    torch.manual_seed(0)
    joint = make_joint(setup['teachers']).eval()
    digits, shapes = [s.dataset for s in sources(setup)['train']]
    data = pseudo_collate([digits[0], digits[5], shapes[3]])
    for sample, idx in zip(data['data_samples'], (0, 0, 1)):
        sample.set_metainfo(dict(dataset_idx=idx))
    batch = joint.data_preprocessor(data, False)
    online = joint(batch['inputs'], batch['data_samples'], mode='tensor')

    for dtype, pool, tol in (('float32', None, 1e-5),
                             ('float16', None, 2e-2),
                             ('float32', 'min', 1e-5)):
        root = setup['tmp'] / f'{dtype}_{pool}'
        build_cache(setup, root, joint=joint, dtype=dtype, pool=pool)
        cached_joint = make_joint(
            setup['teachers'],
            feature_cache=dict(root=str(root), pool=pool, dtype=dtype))
        cached_joint.load_state_dict(joint.state_dict())
        cached_joint.eval()
        dataset = cached_dataset(setup, root)
        items = pseudo_collate([dataset[i] for i in (0, 5, 15)])
        cached_batch = cached_joint.data_preprocessor(items, False)
        assert cached_batch['data_samples'][0].teacher_features.dtype == \
            np.dtype(dtype)
        cached = cached_joint(cached_batch['inputs'],
                              cached_batch['data_samples'], mode='tensor')
        # Online through the same model (pooled like the cache when
        # pool='min'): no samples carry features.
        reference = cached_joint(batch['inputs'], batch['data_samples'],
                                 mode='tensor') if pool else online
        for a, b in zip(cached['logits'], reference['logits']):
            assert torch.allclose(a, b, atol=tol, rtol=tol), (dtype, pool)
        for a, b in zip(cached['features'], reference['features']):
            assert a.shape == b.shape
    # 'min' pooling shrinks the digits teacher's maps to the shapes
    # teacher's sizes, which the neck aligns them to anyway: in eval mode
    # (BN and 1x1 conv commute with average pooling) nothing is lost.
    pooled = load_manifest(str(setup['tmp'] / 'float32_min'))['shapes']
    plain = load_manifest(str(setup['tmp'] / 'float32_None'))['shapes']
    assert plain == [[[16, 8, 8], [32, 4, 4]], [[32, 2, 2], [64, 1, 1]]]
    assert pooled == [[[16, 2, 2], [32, 1, 1]], [[32, 2, 2], [64, 1, 1]]]
    for a, b in zip(cached['logits'], online['logits']):
        assert torch.allclose(a, b, atol=1e-4)


def test_pooling_shrinks_larger_maps(setup):
    root = setup['tmp'] / 'pooled'
    joint = make_joint(setup['teachers'])
    build_cache(setup, root, joint=joint, pool={'l1': 2})
    manifest = load_manifest(str(root))
    assert manifest['pool'] == {'l1': [2, 2]}
    assert manifest['shapes'] == [[[16, 2, 2], [32, 4, 4]],
                                  [[32, 2, 2], [64, 1, 1]]]
    # A model configured without the pooling refuses the cache.
    wrong = make_joint(setup['teachers'], feature_cache=dict(root=str(root)))
    batch = wrong.data_preprocessor(
        pseudo_collate([cached_dataset(setup, root)[0]]), False)
    with pytest.raises(StaleCacheError, match=r'pooling: the cache was '
                       r"built with pool=\{'l1': \[2, 2\]\}"):
        wrong(batch['inputs'], batch['data_samples'], mode='tensor')


def test_training_from_cache_runs_no_teacher(setup, monkeypatch):
    root = setup['tmp'] / 'cache'
    build_cache(setup, root, dtype='float16')
    joint = make_joint(setup['teachers'], feature_cache=dict(root=str(root)))
    joint.train()

    def no_forward(self, inputs):
        raise AssertionError(f'teacher {self.name} ran')

    monkeypatch.setattr(FrozenTeacher, 'forward', no_forward)
    dataset = cached_dataset(setup, root)
    optimizer = torch.optim.SGD(
        [p for p in joint.parameters() if p.requires_grad], lr=0.1)
    for step in range(2):
        batch = joint.data_preprocessor(
            pseudo_collate([dataset[i] for i in (step, 12 + step, 20)]), True)
        losses = joint(batch['inputs'], batch['data_samples'], mode='loss')
        assert set(losses) == {'loss_digits', 'loss_shapes'}
        optimizer.zero_grad()
        sum(losses.values()).backward()
        optimizer.step()
    # Mixing cached and uncached samples is a configuration error.
    mixed = pseudo_collate([dataset[0], sources(setup)['train'][1].dataset[0]])
    with pytest.raises(ValueError, match='1 of 2 data samples carry no'):
        joint(torch.zeros(2, 3, 32, 32), mixed['data_samples'],
              mode='tensor')


def test_rank_split_is_disjoint_and_complete(setup):
    tasks = list(range(11))
    shares = [assign_shards(tasks, r, 3) for r in range(3)]
    assert shares[0] == [0, 3, 6, 9]
    assert sorted(sum(shares, [])) == tasks
    assert all(not set(a) & set(b) for i, a in enumerate(shares)
               for b in shares[i + 1:])
    with pytest.raises(ValueError, match='rank 2 outside world_size 2'):
        assign_shards(tasks, 2, 2)

    # Two ranks writing one cache (as under torchrun) = one process.
    single, split = setup['tmp'] / 'single', setup['tmp'] / 'split'
    build_cache(setup, single)
    written = [build_cache(setup, split, rank=r, world_size=2)
               for r in (0, 1)]
    assert written == [12, 10]  # shards d0 d2 s1 | d1 s0 s2 (4,4,2 | 4,4,2)
    manifest = load_manifest(str(split))
    ranks = {k: v['rank'] for k, v in manifest['shards'].items()}
    assert ranks == {'train/digits/00000': 0, 'train/digits/00001': 1,
                     'train/digits/00002': 0, 'train/shapes/00000': 1,
                     'train/shapes/00001': 0, 'train/shapes/00002': 1}
    expected = shard_arrays(str(single))
    got = shard_arrays(str(split))
    assert all(np.array_equal(got[k], v) for k, v in expected.items())


# ----------------------------------------------------------------------
# mlfd_mm.apis.cache_features (tools/cache_features.py)
# ----------------------------------------------------------------------
def write_config(setup, root):
    path = setup['tmp'] / 'joint_cached.py'
    loader = dict(batch_size=4, num_workers=0,
                  sampler=dict(type='DefaultSampler', shuffle=False),
                  dataset=setup['wrapper'])
    model = dict(type='JointTeacher', teachers=setup['teachers'],
                 levels='L2', fusion=dict(type='ConcatFusionNeck', width=8),
                 feature_cache=dict(root=str(root)))
    path.write_text(
        "default_scope = 'mmpretrain'\n"
        f'model = {model!r}\n'
        f'train_dataloader = {loader!r}\n'
        f'test_dataloader = {loader!r}\n')
    return str(path)


def test_check_disk_space_gives_figures(monkeypatch, tmp_path):
    usage = namedtuple('usage', 'total used free')
    monkeypatch.setattr(shutil, 'disk_usage',
                        lambda path: usage(10**9, 10**9 - 5 * 10**6,
                                           5 * 10**6))
    check_disk_space(str(tmp_path / 'new' / 'cache'), 4 * 10**6)
    with pytest.raises(InsufficientDiskSpaceError,
                       match=r'needs 7\.0 MB, but only 5\.0 MB is free .*'
                       r'short by 2\.0 MB'):
        check_disk_space(str(tmp_path / 'new' / 'cache'), 7 * 10**6)


def test_dry_run_prints_sizes_and_refuses_a_small_disk(setup, monkeypatch,
                                                       capsys):
    root = setup['tmp'] / 'tool_cache'
    config = write_config(setup, root)
    assert cache_features(config, ['train'], dry_run=True) == 0
    out = capsys.readouterr().out
    # digits teacher: 16x8x8 + 32x4x4 values; shapes: 32x2x2 + 64x1x1.
    per_sample = (16 * 64 + 32 * 16 + 32 * 4 + 64) * 2
    assert f'l1     16x8x8' in out
    assert f'per sample{" " * 34} {per_sample:>14,}' in out
    assert f'float32 {2 * per_sample:,}' in out
    assert re.search(r'train\s+total\s+22\s', out)
    assert not osp.exists(str(root))

    usage = namedtuple('usage', 'total used free')
    monkeypatch.setattr(shutil, 'disk_usage',
                        lambda path: usage(10**6, 10**6 - 1000, 1000))
    assert cache_features(config, ['train'], dry_run=True) == 2
    err = capsys.readouterr().err
    assert 'not enough disk space' in err
    assert f'needs {22 * per_sample / 1000:.1f} KB' in err
    assert 'only 1.0 KB is free' in err
    assert not osp.exists(str(root))


def test_tool_builds_and_resumes(setup, capsys):
    root = setup['tmp'] / 'tool_cache'
    config = write_config(setup, root)
    options = dict(shard_size=5, num_workers=0, device='cpu')
    assert cache_features(config, ['train', 'test'], **options) == 0
    manifest = load_manifest(str(root))
    assert manifest['dtype'] == 'float16'
    assert sorted(manifest['splits']) == ['test', 'train']
    assert manifest['splits']['train']['digits']['pipeline'] == PIPELINE
    assert len(manifest['shards']) == 2 * (3 + 2)
    assert all(s['complete'] for s in manifest['shards'].values())
    teacher = manifest['teachers'][0]
    assert teacher['name'] == 'digits'
    with open(setup['teachers'][0]['checkpoint'], 'rb') as f:
        assert teacher['checkpoint_sha256'] == hashlib.sha256(
            f.read()).hexdigest()
    # Running again writes nothing: every shard is complete.
    capsys.readouterr()
    assert cache_features(config, ['train', 'test'], **options) == 0
    assert '0 B to write' in capsys.readouterr().out


def test_distiller_takes_the_joint_teacher_inputs_from_the_cache(
        setup, monkeypatch):
    """MLFDDistiller, unchanged: its joint teacher (config with
    feature_cache) reads the features its student's samples carry; in eval
    mode every loss equals the online one."""
    from mlfd_mm.models.distillers import MLFDDistiller
    root = setup['tmp'] / 'cache'
    build_cache(setup, root)  # float32
    joint = dict(type='JointTeacher', teachers=setup['teachers'],
                 levels='L2', fusion=dict(type='ConcatFusionNeck', width=8),
                 feature_cache=dict(root=str(root)))
    torch.manual_seed(0)
    distiller = MLFDDistiller(
        student=tiny_model('ResNet_CIFAR', 3),
        teacher=dict(config=joint, checkpoint=None), dataset='digits',
        data_preprocessor=dict(mean=[120.] * 3, std=[60.] * 3)).eval()
    digits = setup['wrapper']['datasets'][0]
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        cached_set = CachedFeatureDataset(digits, root=str(root),
                                          split='train',
                                          dataset_name='digits')
        plain_set = DATASETS.build(digits)
    cached = distiller.data_preprocessor(
        pseudo_collate([cached_set[i] for i in (0, 7, 11)]), False)
    online = distiller.data_preprocessor(
        pseudo_collate([plain_set[i] for i in (0, 7, 11)]), False)
    assert torch.equal(cached['inputs'], online['inputs'])
    runs = []
    real_forward = FrozenTeacher.forward
    monkeypatch.setattr(FrozenTeacher, 'forward', lambda self, x: (
        runs.append(self.name), real_forward(self, x))[1])
    cached_losses = distiller(cached['inputs'], cached['data_samples'],
                              mode='loss')
    assert runs == []  # no teacher ran
    online_losses = distiller(online['inputs'], online['data_samples'],
                              mode='loss')
    assert runs == NAMES
    assert {'loss_kd', 'loss_ce'} <= set(cached_losses)
    assert any(k.startswith('loss_feature') for k in cached_losses)
    for key, value in online_losses.items():
        assert torch.allclose(cached_losses[key], value, atol=1e-5), key


@pytest.mark.slow
def test_cache_features_tool_passes_its_arguments(setup):
    """tools/cache_features.py as a user runs it: --pool, --num-samples and
    --dtype reach the dry run; a bad --pool is refused by name."""
    config = write_config(setup, setup['tmp'] / 'cli_cache')
    proc = run_tool(PYTHON, 'tools/cache_features.py', config, '--dry-run',
                    '--split', 'train', '--dtype', 'float32', '--pool', 'l1=2',
                    '--num-samples', 'train.digits=1000')
    assert "dtype float32, pool {'l1': [2, 2]}" in proc.stdout
    assert re.search(r'train\s+digits\s+1,000\s', proc.stdout)
    bad = run_tool(PYTHON, 'tools/cache_features.py', config, '--dry-run',
                   '--pool', 'l1', check=False)
    assert bad.returncode != 0 and "--pool 'l1'" in bad.stderr


# ----------------------------------------------------------------------
# layout /2: one file per shard, positioned reads, old layouts refused
# ----------------------------------------------------------------------
def _read_all(reader, order):
    return np.stack([reader.read(name, i) for name, i in order])


def _read_in_child(reader, order, conn):
    try:
        conn.send(_read_all(reader, order))
    finally:
        conn.close()


def test_reads_are_right_with_few_descriptors_forks_and_pickles(setup):
    import multiprocessing
    import os
    import pickle

    from mlfd_mm.cache import FeatureCacheReader
    root = setup['tmp'] / 'cache'
    build_cache(setup, root)
    manifest = load_manifest(str(root))
    assert manifest['format'] == 'mlfd_mm-feature-cache/2'
    layout_bytes = manifest['bytes_per_sample']
    assert [o['offset'] for o in manifest['offsets']] == sorted(
        o['offset'] for o in manifest['offsets'])
    # The files hold nothing but the rows.
    assert osp.getsize(f'{root}/train/digits/00002.bin') == 4 * layout_bytes
    assert osp.getsize(f'{root}/train/shapes/00002.bin') == 2 * layout_bytes

    order = [(n, i) for n, size in (('digits', 12), ('shapes', 10))
             for i in range(size)]
    rng = np.random.default_rng(0)
    order = [order[k] for k in rng.permutation(len(order))]
    full = FeatureCacheReader(str(root), 'train')
    expected = _read_all(full, order)
    # Each sample's row is its own: rows of a shard differ.
    assert not np.array_equal(expected[0], expected[1])
    # One descriptor kept: every read reopens, same values, one fd open.
    one = FeatureCacheReader(str(root), 'train', max_open=1)
    assert np.array_equal(_read_all(one, order), expected)
    assert len(one._open) == 1
    # out= fills a buffer in place.
    out = np.empty(full.layout.numel, dtype=full.layout.dtype)
    assert full.read(*order[3], out=out) is out
    assert np.array_equal(out, expected[3])

    # A forked process (a loader worker) opens its own descriptors, and
    # the parent's stay usable after the child exits.
    parent_fds = dict(full._open)
    context = multiprocessing.get_context('fork')
    recv, send = context.Pipe(duplex=False)
    child = context.Process(target=_read_in_child, args=(full, order, send))
    child.start()
    send.close()
    assert np.array_equal(recv.recv(), expected)
    child.join()
    assert child.exitcode == 0
    assert dict(full._open) == parent_fds
    for fd in parent_fds.values():
        os.fstat(fd)  # still open
    assert np.array_equal(_read_all(full, order), expected)
    # A pickled reader (spawned workers) carries no descriptors.
    copy_ = pickle.loads(pickle.dumps(full))
    assert not copy_._open
    assert np.array_equal(_read_all(copy_, order), expected)
    full.close()
    assert not full._open

    # Two loader workers over the cached dataset: every item carries the
    # row the parent reads for it.
    from mlfd_mm.cache.reader import FEATURES_FIELD
    dataset = cached_dataset(setup, root)
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=5, num_workers=2, collate_fn=pseudo_collate,
        sampler=list(range(len(dataset)))[::-1],
        multiprocessing_context='fork')
    got = [s.get(FEATURES_FIELD) for batch in loader
           for s in batch['data_samples']]
    parent = FeatureCacheReader(str(root), 'train')
    want = [parent.read(*dataset._locate(i)) for i in range(len(dataset))]
    assert len(got) == len(want) == 22
    assert all(np.array_equal(g, w) for g, w in zip(got, want[::-1]))


def test_a_cache_of_the_old_layout_is_refused_then_rebuilt(setup):
    import json

    from mlfd_mm.cache import FeatureCacheReader, OutdatedCacheError
    root = setup['tmp'] / 'cache'
    build_cache(setup, root)
    # Make it look like a layout-1 cache: format 1 and per-level .npy files.
    path = root / 'manifest.json'
    manifest = json.loads(path.read_text())
    manifest['format'] = 'mlfd_mm-feature-cache/1'
    for key in ('offsets', 'bytes_per_sample', 'byteorder'):
        manifest.pop(key)
    path.write_text(json.dumps(manifest))
    old = root / 'train' / 'digits' / 'digits' / 'l1' / '00000.npy'
    old.parent.mkdir(parents=True)
    np.save(old, np.zeros((4, 16, 8, 8), np.float32))

    for read in (lambda: FeatureCacheReader(str(root), 'train'),
                 lambda: cached_dataset(setup, root),
                 lambda: load_manifest(str(root)),
                 lambda: build_cache(setup, root)):
        with pytest.raises(OutdatedCacheError) as err:
            read()
        assert "format 'mlfd_mm-feature-cache/1', an older layout" in str(
            err.value)
        assert 'rebuild it with' in str(err.value)
        assert '--force' in str(err.value)
    with pytest.raises(StaleCacheError):  # a kind of stale cache
        cached_dataset(setup, root)

    # --force rebuilds it in the new layout; the old files are gone.
    assert build_cache(setup, root, force=True) == 22
    assert not old.exists()
    assert load_manifest(str(root))['format'] == 'mlfd_mm-feature-cache/2'
    assert len(cached_dataset(setup, root)) == 22


def test_values_that_overflow_float16_are_refused_naming_the_map():
    from types import SimpleNamespace

    from mlfd_mm.cache.writer import FeatureCacheWriter
    half = SimpleNamespace(dtype='float16')
    fine = FeatureCacheWriter.stored(half, torch.tensor([1.5, -2.0]), 'x')
    assert fine.dtype == torch.float16 and fine.tolist() == [1.5, -2.0]
    with pytest.raises(FloatingPointError,
                       match=r"teacher 'r18', level l2: non-finite values "
                             r'in float16 \(largest \|value\| 1e\+06\); '
                             'cache with dtype float32'):
        FeatureCacheWriter.stored(half, torch.tensor([1e6, 1.0]),
                                  "teacher 'r18', level l2")
