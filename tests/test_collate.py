"""stack_collate (mlfd_mm/datasets/collate.py): the same batch as
pseudo_collate with the images stacked in the loader worker; the data
preprocessors and a training run compute the same from either; mixed shapes
fall back to a list or raise, naming the samples."""
import copy

import mlfd_mm  # noqa: F401  (compat fixes before torchvision)
import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.optim import OptimWrapper
from mmengine.registry import FUNCTIONS, MODELS
from mmengine.runner import Runner
from mmpretrain.structures import DataSample

from conftest import distiller_config, make_joint_teacher, state_copy
from mlfd_mm.cache.reader import FEATURES_FIELD
from mlfd_mm.datasets import StackedInputs, stack_collate, stack_collate_list
from mlfd_mm.models.normalise import PixelNormaliser

MEAN, STD = [120.0, 110.0, 100.0], [60.0, 55.0, 50.0]


def items(n=6, shape=(3, 32, 32), seed=0, prefix='img'):
    """Packed samples as the project's datasets give them: uint8 images,
    labels, MultiDatasetWrapper's dataset tags and CachedFeatureDataset's
    features."""
    generator = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        sample = DataSample().set_gt_label(i % 3)
        sample.set_metainfo(dict(img_path=f'{prefix}{i}.png',
                                 dataset_idx=i % 2,
                                 dataset_name=('digits', 'shapes')[i % 2]))
        sample.set_field(np.full(5, i, np.float16), FEATURES_FIELD)
        out.append(dict(inputs=torch.randint(0, 256, shape, dtype=torch.uint8,
                                              generator=generator),
                        data_samples=sample))
    return out


def test_stack_collate_is_pseudo_collate_with_stacked_images():
    assert FUNCTIONS.get('stack_collate') is stack_collate
    batch = items()
    ref = pseudo_collate(copy.deepcopy(batch))
    out = stack_collate(copy.deepcopy(batch))
    assert isinstance(out['inputs'], torch.Tensor)
    assert out['inputs'].dtype == torch.uint8
    assert tuple(out['inputs'].shape) == (6, 3, 32, 32)
    assert torch.equal(out['inputs'], torch.stack(ref['inputs']))
    assert isinstance(out['data_samples'], list)
    assert [int(s.gt_label) for s in out['data_samples']] == [0, 1, 2] * 2
    assert [s.dataset_name for s in out['data_samples']] == \
        ['digits', 'shapes'] * 3
    assert [int(s.get(FEATURES_FIELD)[0]) for s in out['data_samples']] == \
        list(range(6))
    listed = stack_collate(copy.deepcopy(batch), inputs_as='list')
    assert isinstance(listed['inputs'], StackedInputs)
    assert FUNCTIONS.get('stack_collate_list') is stack_collate_list
    assert type(stack_collate_list(copy.deepcopy(batch))['inputs']) is \
        StackedInputs
    assert all(torch.equal(a, b) for a, b in zip(listed['inputs'],
                                                 ref['inputs']))


@pytest.mark.parametrize('inputs_as', ['tensor', 'list'])
def test_the_worker_sends_one_tensor(inputs_as):
    batch = items(8)
    # built as a config's collate_fn=dict(type=..., **options) is
    loader = Runner.build_dataloader(dict(
        batch_size=8, num_workers=1, dataset=batch,
        sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=dict(type='stack_collate', inputs_as=inputs_as)))
    data = next(iter(loader))
    expected = torch.stack([item['inputs'] for item in batch])
    if inputs_as == 'tensor':
        assert isinstance(data['inputs'], torch.Tensor)
        assert torch.equal(data['inputs'], expected)
    else:
        assert type(data['inputs']) is StackedInputs
        assert torch.equal(torch.stack(data['inputs']), expected)
        # views of the one tensor the worker sent, not 8 tensors
        assert len({t.untyped_storage().data_ptr()
                    for t in data['inputs']}) == 1
    assert [int(s.gt_label) for s in data['data_samples']] == \
        [0, 1, 2, 0, 1, 2, 0, 1]


def _both(batch, **options):
    return (pseudo_collate(copy.deepcopy(batch)),
            stack_collate(copy.deepcopy(batch), **options))


def test_cls_preprocessor_and_pixel_normaliser_compute_the_same():
    ref, out = _both(items())
    prep = MODELS.build(dict(type='mmpretrain.ClsDataPreprocessor',
                             num_classes=3, mean=MEAN, std=STD, to_rgb=True))
    a, b = prep(ref, True), prep(out, True)
    assert a['inputs'].dtype == b['inputs'].dtype == torch.float32
    assert torch.equal(a['inputs'], b['inputs'])
    assert [int(s.gt_label) for s in a['data_samples']] == \
        [int(s.gt_label) for s in b['data_samples']]
    # the distillers' and the joint teacher's path: a raw preprocessor,
    # then the model's own normaliser
    raw = MODELS.build(dict(type='mmpretrain.ClsDataPreprocessor'))
    norm = PixelNormaliser(MEAN, STD, flip_channels=True)
    a = norm(raw(_both(items())[0], True)['inputs'])
    b = norm(raw(_both(items())[1], True)['inputs'])
    assert torch.equal(a, b)
    assert not torch.equal(a, raw(ref, True)['inputs'])  # it normalised


def test_action_preprocessor_needs_the_list_form():
    from mmaction.structures import ActionDataSample
    generator = torch.Generator().manual_seed(0)
    clips = []
    for label in (0, 2, 1):
        sample = ActionDataSample().set_gt_label(label)
        clips.append(dict(inputs=torch.randint(
            0, 256, (8, 3, 16, 16), dtype=torch.uint8, generator=generator),
            data_samples=sample))
    prep = MODELS.build(dict(type='mmaction.ActionDataPreprocessor',
                             mean=MEAN, std=STD, format_shape='NCHW'))
    ref, listed = _both(clips, inputs_as='list')
    a, b = prep(ref, True), prep(listed, True)
    assert tuple(b['inputs'].shape) == (3, 8, 3, 16, 16)
    assert torch.equal(a['inputs'], b['inputs'])
    # mmaction2's preprocessor refuses a stacked tensor: hence inputs_as
    with pytest.raises(AssertionError, match='list'):
        prep(stack_collate(copy.deepcopy(clips)), True)


def test_mixed_shapes_fall_back_to_a_list_or_raise():
    batch = items(2) + items(1, shape=(3, 28, 28), prefix='small')
    ref, out = _both(batch)
    assert isinstance(out['inputs'], list)
    assert [tuple(t.shape) for t in out['inputs']] == [(3, 32, 32)] * 2 + \
        [(3, 28, 28)]
    prep = MODELS.build(dict(type='mmpretrain.ClsDataPreprocessor',
                             mean=MEAN, std=STD))
    assert torch.equal(prep(ref)['inputs'], prep(out)['inputs'])  # padded
    with pytest.raises(ValueError,
                       match=r"\(3, 32, 32\) torch.uint8 \(sample 0, "
                       r"dataset_name='digits', img_path='img0.png'\); "
                       r"\(3, 28, 28\) torch.uint8 \(sample 2, "
                       r"dataset_name='digits', img_path='small0.png'\)"):
        stack_collate(copy.deepcopy(batch), mixed_shapes='error')


def test_bad_options_and_samples_are_named():
    with pytest.raises(ValueError, match="inputs_as must be one of.*'dict'"):
        stack_collate(items(2), inputs_as='dict')
    with pytest.raises(ValueError, match="mixed_shapes must be one of"):
        stack_collate(items(2), mixed_shapes='pad')
    with pytest.raises(TypeError, match='pseudo_collate'):
        stack_collate([(torch.zeros(3), 1), (torch.zeros(3), 2)])


def _weights_after_two_steps(model_cfg, make_batch):
    """State dicts after two training steps on the same batches, collated by
    pseudo_collate and by stack_collate."""
    weights = {}
    for collate in (pseudo_collate, stack_collate):
        torch.manual_seed(0)
        model = MODELS.build(copy.deepcopy(model_cfg)).train()
        start = state_copy(model)
        optim = OptimWrapper(torch.optim.SGD(
            [p for p in model.parameters() if p.requires_grad], lr=0.1,
            momentum=0.9))
        for step in range(2):
            model.train_step(collate(make_batch(step)), optim)
        weights[collate.__name__] = state_copy(model)
    a, b = weights['pseudo_collate'], weights['stack_collate']
    assert any(not torch.equal(start[k], a[k]) for k in a)  # it trained
    return a, b


def test_joint_teacher_step_on_a_mixed_batch_is_identical(tmp_path):
    a, b = _weights_after_two_steps(
        make_joint_teacher(tmp_path)['config'],
        lambda step: items(6, seed=step))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_distiller_step_is_identical(tmp_path):
    """An MLFD distiller (student_inputs: raw pixels, the student's own
    normaliser; the joint teacher online)."""
    cfg = distiller_config(make_joint_teacher(tmp_path), None, tmp_path)
    model = dict(cfg['model'], data_preprocessor=cfg['data_preprocessor'])

    def batch(step):
        out = items(4, seed=step)
        for item in out:  # the student's dataset: 'shapes', 5 classes
            item['data_samples'].set_metainfo(dict(dataset_idx=1,
                                                   dataset_name='shapes'))
        return out

    a, b = _weights_after_two_steps(model, batch)
    assert all(torch.equal(a[k], b[k]) for k in a)


PAPER_LOADERS = ['configs/_base_/datasets/paper_224_common.py',
                 'configs/_base_/datasets/cifar100.py',
                 'configs/_base_/datasets/video_224_common.py',
                 'configs/_base_/datasets/activitynet.py',
                 'configs/mlfd/joint_t1.py', 'configs/mlfd/joint_action.py']


@pytest.mark.parametrize('path', PAPER_LOADERS)
def test_paper_loaders_stack_in_the_worker(path):
    """The paper configs' loaders stack in the workers and pin memory; clips
    go to mmaction2's preprocessor as the list it needs."""
    import os.path as osp

    from mmengine.config import Config
    from conftest import REPO
    cfg = Config.fromfile(osp.join(REPO, path))
    text = repr(cfg.train_dataloader) + repr(cfg.get('model'))
    clips = 'PackActionInputs' in text or 'ActionDataPreprocessor' in text
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[key]
        assert loader.collate_fn == dict(
            type='stack_collate_list' if clips else 'stack_collate'), \
            (path, key)
        assert loader.pin_memory is True and loader.num_workers == 8


def _own_collates(config):
    """The collate_fn of a config's train, val and test loaders."""
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    return [cfg[f'{k}_dataloader'].get('collate_fn')
            for k in ('train', 'val', 'test')]


def _config_weights(config, data_root, collate, work_dir, batch_size=50):
    """Weights after one epoch of two iterations of ``config``'s own
    training (mmengine's Runner, the config's loader with one worker) on a
    data root of ``2 * batch_size`` training samples, collated by
    ``collate`` (a collate_fn config; None: the config's own)."""
    from mlfd_mm.apis.runner import load_config
    from mlfd_mm.config import fit_schedulers_to_epochs
    options = {'train_dataloader.dataset.data_root': data_root}
    if collate is not None:
        options['train_dataloader.collate_fn'] = collate
    cfg = load_config(config, options, work_dir=str(work_dir))
    cfg.train_dataloader.update(batch_size=batch_size, num_workers=1,
                                persistent_workers=True)
    cfg.train_cfg.update(max_epochs=1)
    fit_schedulers_to_epochs(cfg)  # as tools/train.py does after options
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    cfg.default_hooks.checkpoint = None
    cfg.log_level = 'WARNING'
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 2
    return state_copy(runner.model)


@pytest.mark.slow
def test_offline_teacher_config_trains_identical_weights(tiny_offline_root,
                                                         tmp_path):
    """The offline mnist ResNet-18's own config (the README's offline
    figures), which collates with stack_collate: two Runner iterations
    through a loader worker give the same weights as with pseudo_collate,
    the collate of the runs behind those figures."""
    import os.path as osp
    from conftest import REPO
    config = osp.join(REPO, 'configs/teachers/offline_mnist_resnet18.py')
    assert _own_collates(config) == [dict(type='stack_collate')] * 3
    root = osp.join(tiny_offline_root, 'mnist')
    a, b = (_config_weights(config, root, c, tmp_path / str(i))
            for i, c in enumerate((dict(type='pseudo_collate'), None)))
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_offline_video_config_trains_identical_weights(tmp_path):
    """The offline video TSM's own config, through mmaction2's
    ActionDataPreprocessor, which collates with stack_collate_list: the same
    weights as with pseudo_collate."""
    import os.path as osp
    from conftest import REPO
    from video_fakes import write_fake_motion_source
    from mlfd_mm.datasets.offline_video import (OFFLINE_VIDEO_DATASETS,
                                                build_offline_video_dataset)
    images = str(tmp_path / 'images')
    write_fake_motion_source(images, OFFLINE_VIDEO_DATASETS['direction'][
        'source'])
    root = str(tmp_path / 'video')
    build_offline_video_dataset('direction', root=root, image_root=images,
                                clips_per_class=dict(train=2, val=1, test=1))
    config = osp.join(REPO, 'configs/teachers/'
                      'offline_video_tsm_r18_direction.py')
    assert _own_collates(config) == [dict(type='stack_collate_list')] * 3
    a, b = (_config_weights(config, osp.join(root, 'direction'), collate,
                            tmp_path / str(i), batch_size=8)
            for i, collate in enumerate((dict(type='pseudo_collate'), None)))
    assert all(torch.equal(a[k], b[k]) for k in a)
