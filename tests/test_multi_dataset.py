"""MultiDatasetWrapper and MultiDatasetSampler."""
import mlfd_mm  # noqa: F401  (compat fixes before torchvision)
from collections import Counter

import cv2
import numpy as np
import pytest
from mmengine.dataset import ConcatDataset
from mmengine.registry import DATA_SAMPLERS, DATASETS, DefaultScope

from mlfd_mm.datasets import MultiDatasetSampler, MultiDatasetWrapper

PIPELINE = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]


def image_folder(root, classes, per_class, seed):
    """An ImageNet-style folder: one sub-folder of PNGs per class."""
    rng = np.random.default_rng(seed)
    for name in classes:
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            cv2.imwrite(str(root / name / f'{i}.png'),
                        rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
    return str(root)


@pytest.fixture
def two_datasets(tmp_path):
    pets = image_folder(tmp_path / 'pets', ['cat', 'dog'], 2, seed=0)
    shapes = image_folder(tmp_path / 'shapes', ['circle', 'square', 'tri'],
                          1, seed=1)
    return [dict(type='CustomDataset', data_root=root, pipeline=PIPELINE)
            for root in (pets, shapes)]


def build(cfg):
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return DATASETS.build(cfg)


def test_wrapper_keeps_labels_and_tags_samples(two_datasets):
    wrapper = build(dict(type='MultiDatasetWrapper', datasets=two_datasets,
                         names=['pets', 'shapes']))
    assert len(wrapper) == 7
    assert wrapper.cumulative_sizes == [4, 7]
    assert wrapper.dataset_sizes == [4, 3]
    assert wrapper.metainfo == dict(
        dataset_names=['pets', 'shapes'],
        classes=[['cat', 'dog'], ['circle', 'square', 'tri']])
    assert [wrapper.get_dataset_idx(i) for i in range(7)] == [0] * 4 + [1] * 3
    assert wrapper.locate(5) == (1, 1)
    assert wrapper.locate(-1) == (1, 2)

    items = [wrapper[i] for i in range(7)]
    labels = [int(item['data_samples'].gt_label) for item in items]
    assert labels == [0, 0, 1, 1, 0, 1, 2]  # each dataset's own labels
    assert [item['data_samples'].dataset_idx for item in items] == [0] * 4 + [
        1] * 3
    assert [item['data_samples'].dataset_name for item in items] == [
        'pets'] * 4 + ['shapes'] * 3
    assert 'square' in items[5]['data_samples'].img_path
    assert tuple(items[0]['inputs'].shape) == (3, 8, 8)

    info = wrapper.get_data_info(6)
    assert info['dataset_name'] == 'shapes' and info['gt_label'] == 2
    with pytest.raises(IndexError, match='index 7 out of range'):
        wrapper[7]


def test_upstream_concat_dataset_refuses_what_the_wrapper_accepts(
        two_datasets):
    """Records upstream behaviour (mmengine's ConcatDataset refuses datasets
    whose classes differ): the reason MultiDatasetWrapper exists. Tests no
    code of this project."""
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        with pytest.raises(ValueError, match='meta information'):
            ConcatDataset(two_datasets)


def test_wrapper_lazy_init(two_datasets):
    lazy = [dict(d, lazy_init=True) for d in two_datasets]
    wrapper = build(dict(type='MultiDatasetWrapper', datasets=lazy,
                         names=['pets', 'shapes'], lazy_init=True))
    assert not wrapper._fully_initialized
    assert all(not d._fully_initialized for d in wrapper.datasets)
    wrapper.full_init()
    assert len(wrapper) == 7 and all(d._fully_initialized
                                     for d in wrapper.datasets)


def test_wrapper_name_errors(two_datasets):
    with pytest.raises(ValueError, match=r"1 names \['pets'\] for 2"):
        build(dict(type='MultiDatasetWrapper', datasets=two_datasets,
                   names=['pets']))
    with pytest.raises(ValueError, match='unique'):
        build(dict(type='MultiDatasetWrapper', datasets=two_datasets,
                   names=['x', 'x']))


def test_wrapper_tags_mmaction_samples(tmp_path):
    from mmaction.structures import ActionDataSample
    rng = np.random.default_rng(0)
    lines = []
    for clip, label in (('walk', 0), ('run', 2)):
        (tmp_path / clip).mkdir()
        for i in range(1, 5):
            cv2.imwrite(str(tmp_path / clip / f'img_{i:05d}.jpg'),
                        rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
        lines.append(f'{clip} 4 {label}')
    (tmp_path / 'ann.txt').write_text('\n'.join(lines) + '\n')
    pipeline = [
        dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=2,
             test_mode=True),
        dict(type='RawFrameDecode'),
        dict(type='FormatShape', input_format='NCHW'),
        dict(type='PackActionInputs'),
    ]
    # _scope_ (not only a 'mmaction.' type) so that the pipeline's
    # transforms are found in mmaction's registry too.
    videos = dict(type='RawframeDataset', _scope_='mmaction',
                  ann_file=str(tmp_path / 'ann.txt'),
                  data_prefix=dict(img=str(tmp_path)), pipeline=pipeline,
                  test_mode=True)
    wrapper = build(dict(type='MultiDatasetWrapper', datasets=[videos],
                         names=['moves']))
    item = wrapper[1]
    sample = item['data_samples']
    assert isinstance(sample, ActionDataSample)
    assert sample.dataset_name == 'moves' and sample.dataset_idx == 0
    assert int(sample.gt_label) == 2
    assert tuple(item['inputs'].shape) == (2, 3, 8, 8)


# ----------------------------------------------------------------------
# sampler
# ----------------------------------------------------------------------
def lists(*sizes):
    """A wrapper over plain lists: indices are all the sampler needs."""
    return MultiDatasetWrapper([list(range(s)) for s in sizes],
                               names=[f'd{i}' for i in range(len(sizes))])


def per_dataset(wrapper, indices):
    return Counter(wrapper.get_dataset_idx(i) for i in indices)


def test_uniform_mixing():
    wrapper = lists(10, 90)
    sampler = MultiDatasetSampler(wrapper, seed=0, rank=0, world_size=1)
    indices = list(sampler)
    assert len(indices) == len(sampler) == 100
    assert per_dataset(wrapper, indices) == {0: 50, 1: 50}
    # The small dataset is repeated evenly, the large one subsampled.
    assert set(Counter(i for i in indices if i < 10).values()) == {5}
    assert len({i for i in indices if i >= 10}) == 50
    # Batches mix: of 25 batches of 4, few hold one dataset only.
    batches = [indices[i:i + 4] for i in range(0, 100, 4)]
    pure = sum(len(set(per_dataset(wrapper, b))) == 1 for b in batches)
    assert pure < 10


def test_size_and_explicit_ratios():
    wrapper = lists(10, 90)
    by_size = list(MultiDatasetSampler(wrapper, ratio='size', seed=0,
                                       rank=0, world_size=1))
    assert sorted(by_size) == list(range(100))  # one plain pass
    three_to_one = MultiDatasetSampler(wrapper, ratio=[3, 1], seed=0,
                                       num_samples=40, rank=0, world_size=1)
    assert per_dataset(wrapper, three_to_one) == {0: 30, 1: 10}
    with pytest.raises(ValueError, match=r"3 ratios.*2 datasets \['d0', "
                       r"'d1'\]"):
        MultiDatasetSampler(wrapper, ratio=[1, 1, 1], seed=0)
    with pytest.raises(ValueError, match='non-negative'):
        MultiDatasetSampler(wrapper, ratio=[-1, 2], seed=0)
    with pytest.raises(TypeError, match='MultiDatasetWrapper'):
        MultiDatasetSampler(list(range(5)), seed=0)


def test_deterministic_per_seed_and_epoch():
    wrapper = lists(7, 20, 33)

    def draw(seed, epoch=0):
        sampler = MultiDatasetSampler(wrapper, seed=seed, rank=0,
                                      world_size=1)
        sampler.set_epoch(epoch)
        return list(sampler)

    assert draw(3) == draw(3)
    assert draw(3) != draw(4)
    assert draw(3, epoch=1) != draw(3, epoch=0)
    assert draw(3, epoch=1) == draw(3, epoch=1)
    assert per_dataset(wrapper, draw(3)) == {0: 20, 1: 20, 2: 20}


def test_two_ranks_disjoint_and_cover_the_epoch():
    wrapper = lists(11, 40)  # 51 samples: padded to 52 for 2 ranks
    ranks = [MultiDatasetSampler(wrapper, ratio='size', seed=5, rank=r,
                                 world_size=2) for r in range(2)]
    for sampler in ranks:
        sampler.set_epoch(2)
    shares = [list(s) for s in ranks]
    assert [len(s) for s in shares] == [26, 26] == [len(s) for s in ranks]
    one_process = MultiDatasetSampler(wrapper, ratio='size', seed=5, rank=0,
                                      world_size=1)
    one_process.set_epoch(2)
    assert set(shares[0]) | set(shares[1]) == set(range(51))
    # Disjoint but for the one padding sample that completes the last step.
    assert len(set(shares[0]) & set(shares[1])) <= 1
    epoch = ranks[0]._epoch_indices()
    assert shares[0] == epoch[0::2] and shares[1] == epoch[1::2]
    assert sorted(epoch[:51]) != epoch[:51]  # shuffled
    assert sorted(list(one_process)) == list(range(51))


def test_unshuffled_interleaves_evenly():
    wrapper = lists(3, 6)
    sampler = MultiDatasetSampler(wrapper, shuffle=False, seed=0, rank=0,
                                  world_size=1, num_samples=8)
    indices = list(sampler)
    assert [wrapper.get_dataset_idx(i) for i in indices] == [0, 1] * 4
    assert indices == [0, 3, 1, 4, 2, 5, 0, 6]


def test_sampler_builds_from_config():
    wrapper = lists(4, 4)
    sampler = DATA_SAMPLERS.build(
        dict(type='MultiDatasetSampler', ratio='uniform'),
        default_args=dict(dataset=wrapper, seed=1))
    assert isinstance(sampler, MultiDatasetSampler) and len(sampler) == 8


def test_wrapper_takes_datasets_from_configs(two_datasets, tmp_path):
    from mmengine.config import Config
    paths = []
    for i, dataset in enumerate(two_datasets):
        path = tmp_path / f'teacher{i}.py'
        Config(dict(default_scope='mmpretrain',
                    test_dataloader=dict(dataset=dict(dataset, data_root='x')))
               ).dump(str(path))
        paths.append(str(path))
    wrapper = MultiDatasetWrapper(
        datasets=[dict(config=p, split='test', data_root=d['data_root'])
                  for p, d in zip(paths, two_datasets)],
        names=['pets', 'shapes'])
    assert wrapper.dataset_sizes == [4, 3]
    assert wrapper.metainfo['classes'][1] == ['circle', 'square', 'tri']
    with pytest.raises(KeyError, match='val_dataloader'):
        MultiDatasetWrapper(datasets=[dict(config=paths[0], split='val')])
    with pytest.raises(FileNotFoundError, match='nope.py'):
        MultiDatasetWrapper(datasets=[dict(config=str(tmp_path / 'nope.py'))])
