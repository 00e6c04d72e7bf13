"""The teacher-feature cache read under DDP: two CPU ranks (torchrun, gloo)
iterate a CachedFeatureDataset through the loaders mmengine's Runner builds,
the joint teacher's (MultiDatasetWrapper, MultiDatasetSampler) and a
student's (one dataset, DefaultSampler), each with a forked loader worker.
Every sample must carry its own cached row, and the ranks must see the
disjoint shares their sampler assigns them, together the whole epoch."""
import hashlib
import json
import os.path as osp

import pytest
import torch

from conftest import (PYTHON, REPO, run_tool, save_teacher_checkpoint,
                      tiny_resnet, tiny_resnet_cifar, write_image_folder)

NAMES = ('digits', 'shapes')
PIPELINE = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]


def _datasets(tmp_path):
    """Two image folders (12 and 10 random 32 px images) as dataset
    configs."""
    roots = dict(digits=write_image_folder(tmp_path / 'digits', 3, 4, 0),
                 shapes=write_image_folder(tmp_path / 'shapes', 5, 2, 1))
    return {n: dict(type='CustomDataset', data_root=roots[n],
                    pipeline=PIPELINE, _scope_='mmpretrain') for n in NAMES}


def _build_cache(tmp_path, datasets):
    """The joint teacher's feature cache of both datasets' train split,
    built as tools/cache_features.py builds it (float32, 4 samples per
    shard: several shards per dataset)."""
    from mlfd_mm.apis.feature_cache import cache_features
    teachers = []
    for seed, (name, model) in enumerate(
            (('digits', tiny_resnet_cifar(3)), ('shapes', tiny_resnet(5)))):
        path = tmp_path / f'{name}.pth'
        save_teacher_checkpoint(model, path, seed)
        teachers.append(dict(name=name, config=model, checkpoint=str(path)))
    root = tmp_path / 'cache'
    loader = dict(batch_size=4, num_workers=0,
                  sampler=dict(type='DefaultSampler', shuffle=False),
                  dataset=dict(type='MultiDatasetWrapper', names=list(NAMES),
                               datasets=[datasets[n] for n in NAMES]))
    model = dict(type='JointTeacher', teachers=teachers, levels='L2',
                 fusion=dict(type='ConcatFusionNeck', width=8),
                 feature_cache=dict(root=str(root)))
    config = tmp_path / 'joint_cached.py'
    config.write_text(
        "default_scope = 'mmpretrain'\n"
        f'model = {model!r}\n'
        f'train_dataloader = {loader!r}\n'
        f'test_dataloader = {loader!r}\n')  # the pipeline cached with
    assert cache_features(str(config), ['train'], dtype='float32',
                          shard_size=4, num_workers=0, device='cpu') == 0
    return str(root), loader['dataset']


def _expected(root, datasets):
    """image path -> (dataset, index, label, row sha256), read in this
    process."""
    from mmengine.registry import DATASETS, DefaultScope

    from mlfd_mm.cache import FeatureCacheReader
    reader = FeatureCacheReader(root, 'train')
    out = {}
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        for name in NAMES:
            dataset = DATASETS.build(datasets[name])
            for i in range(len(dataset)):
                info = dataset.get_data_info(i)
                row = reader.read(name, i)
                out[info['img_path']] = (name, i, int(info['gt_label']),
                                         hashlib.sha256(
                                             row.tobytes()).hexdigest())
    return out


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU path under test')
def test_two_ranks_read_their_own_samples_features(tmp_path):
    datasets = _datasets(tmp_path)
    root, wrapper = _build_cache(tmp_path, datasets)
    expected = _expected(root, datasets)
    # every sample's row differs: a sample given another's row shows
    assert len({v[3] for v in expected.values()}) == len(expected) == 22
    cached = dict(type='CachedFeatureDataset', root=root, split='train')
    workers = dict(batch_size=3, num_workers=1, persistent_workers=False)
    spec = dict(
        joint=dict(**workers, dataset=dict(cached, dataset=wrapper),
                   sampler=dict(type='MultiDatasetSampler', ratio='size',
                                seed=3)),
        student=dict(**workers, dataset=dict(cached, dataset_name='shapes',
                                             dataset=datasets['shapes']),
                     sampler=dict(type='DefaultSampler', shuffle=True,
                                  seed=3)))
    (tmp_path / 'spec.json').write_text(json.dumps(spec))
    out = tmp_path / 'ranks'
    out.mkdir()
    # --standalone: torchrun binds a free port itself (none to race for).
    run_tool(PYTHON, '-m', 'torch.distributed.run', '--standalone',
             '--nproc_per_node', '2', osp.join(REPO, 'tests',
                                               'ddp_cache_reads.py'),
             tmp_path / 'spec.json', out, timeout=600)
    ranks = [json.loads((out / f'rank{r}.json').read_text()) for r in (0, 1)]
    assert [r['world_size'] for r in ranks] == [2, 2]

    starts = dict(digits=0, shapes=12)  # the wrapper's global indices
    for key, size in (('joint', 22), ('student', 10)):
        seen = []
        for rank in ranks:
            got = rank[key]
            assert len(got['samples']) == len(got['sampler']) == size // 2
            indices = []
            for sample in got['samples']:
                name, i, label, row = expected[sample['img_path']]
                # the rank's features are the row cached for this image
                assert (sample['label'], sample['row']) == (label, row), \
                    (key, sample['img_path'])
                indices.append(starts[name] + i if key == 'joint' else i)
            # in the order its sampler gave (no shuffling in between)
            assert indices == got['sampler'], key
            seen += indices
        # disjoint shares that cover the epoch exactly once
        assert sorted(seen) == list(range(size)), key
    assert len({s['cache_id'] for r in ranks for k in ('joint', 'student')
                for s in r[k]['samples']}) == 1
