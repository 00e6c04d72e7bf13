"""JointTeacher, ConcatFusionNeck and MultiDatasetClsHead on tiny random
teachers, and a 2-iteration Runner training of a joint teacher."""
import mlfd_mm  # noqa: F401  (compat fixes before torchvision)
import pytest
import torch
from mmpretrain.structures import DataSample

from conftest import (save_teacher_checkpoint, tiny_resnet, tiny_resnet_cifar,
                      write_image_folder)
from mlfd_mm.models import ConcatFusionNeck, JointTeacher
from mlfd_mm.models.frozen import detached_children


def save_checkpoint(model_cfg, path, seed):
    """Save a stage-1 checkpoint; return its backbone's weights."""
    state = save_teacher_checkpoint(model_cfg, path, seed)
    return {k[len('backbone.'):]: v.clone() for k, v in state.items()
            if k.startswith('backbone.')}


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory):
    """Two teachers of different architectures: 'digits' (3 classes,
    ResNet_CIFAR) and 'shapes' (5 classes, ResNet with its own mean/std)."""
    root = tmp_path_factory.mktemp('teachers')
    states = {}
    states['digits'] = save_checkpoint(tiny_resnet_cifar(3),
                                       root / 'digits.pth', seed=1)
    states['shapes'] = save_checkpoint(tiny_resnet(5), root / 'shapes.pth',
                                       seed=2)
    teachers = [
        dict(name='digits', config=tiny_resnet_cifar(3),
             checkpoint=str(root / 'digits.pth')),
        dict(name='shapes', config=tiny_resnet(5),
             checkpoint=str(root / 'shapes.pth')),
    ]
    return teachers, states


def make_joint(teachers, **kwargs):
    kwargs.setdefault('levels', 'L2')
    kwargs.setdefault('fusion', dict(type='ConcatFusionNeck', width=8))
    return JointTeacher(teachers=teachers, **kwargs)


def samples(dataset_idx, labels, names=None):
    out = []
    for i, label in zip(dataset_idx, labels):
        sample = DataSample().set_gt_label(label)
        meta = dict(dataset_idx=i)
        if names is not None:
            meta['dataset_name'] = names[i]
        sample.set_metainfo(meta)
        out.append(sample)
    return out


def test_tensor_mode(checkpoints):
    teachers, _ = checkpoints
    joint = make_joint(teachers, fusion=dict(
        type='ConcatFusionNeck', width=8, out_channels=[12, 20]))
    assert joint.dataset_names == ['digits', 'shapes']
    assert joint.num_classes == [3, 5]
    assert joint.level_channels == [12, 20]
    # digits L2 = 8x8 and 4x4 maps, shapes L2 = 2x2 and 1x1: aligned to the
    # smallest.
    assert [t.spatial_sizes for t in joint.teachers] == [
        [(8, 8), (4, 4)], [(2, 2), (1, 1)]]
    joint.eval()
    out = joint(torch.rand(3, 3, 32, 32) * 255, mode='tensor')
    assert [tuple(f.shape) for f in out['features']] == [(3, 12, 2, 2),
                                                         (3, 20, 1, 1)]
    assert [tuple(x.shape) for x in out['logits']] == [(3, 3), (3, 5)]
    assert all(torch.isfinite(x).all() for x in out['logits'])


def test_loss_gradients_reach_only_neck_and_head(checkpoints):
    teachers, _ = checkpoints
    joint = make_joint(teachers, head=dict(
        type='MultiDatasetClsHead', dropout=0.2, label_smoothing=0.1))
    joint.train()
    data = samples([0, 1, 1, 0], [2, 4, 0, 1])
    losses = joint(torch.rand(4, 3, 32, 32) * 255, data, mode='loss')
    assert set(losses) == {'loss_digits', 'loss_shapes'}
    total = sum(losses.values())
    assert torch.isfinite(total) and total > 0
    total.backward()
    for name, param in joint.named_parameters():
        if name.startswith('teachers.'):
            assert param.grad is None, name
        else:
            assert param.grad is not None and torch.isfinite(
                param.grad).all(), name
    assert joint.neck.fusions[0].project[0][1].weight.grad.abs().sum() > 0
    assert all(fc.weight.grad.abs().sum() > 0 for fc in joint.head.fcs)


def test_loss_is_each_samples_own_head(checkpoints):
    teachers, _ = checkpoints
    joint = make_joint(teachers).eval()
    inputs = torch.rand(4, 3, 32, 32) * 255
    data = samples([0, 1, 1, 0], [2, 4, 0, 1])
    logits = joint(inputs, mode='tensor')['logits']
    losses = joint.loss(inputs, data)
    ce = torch.nn.functional.cross_entropy
    expected_digits = ce(logits[0][[0, 3]], torch.tensor([2, 1]),
                         reduction='sum') / 4
    expected_shapes = ce(logits[1][[1, 2]], torch.tensor([4, 0]),
                         reduction='sum') / 4
    torch.testing.assert_close(losses['loss_digits'], expected_digits)
    torch.testing.assert_close(losses['loss_shapes'], expected_shapes)


def test_batch_of_one_dataset_backprops_without_nan(checkpoints):
    teachers, _ = checkpoints
    joint = make_joint(teachers).train()
    losses = joint.loss(torch.rand(3, 3, 32, 32) * 255,
                        samples([1, 1, 1], [0, 3, 4]))
    assert losses['loss_digits'].item() == 0.0
    total = sum(losses.values())
    assert torch.isfinite(total) and total > 0
    total.backward()
    digits_fc, shapes_fc = joint.head.fcs
    assert torch.count_nonzero(digits_fc.weight.grad) == 0
    assert torch.isfinite(shapes_fc.weight.grad).all()
    assert shapes_fc.weight.grad.abs().sum() > 0


def test_predict_uses_own_head(checkpoints):
    teachers, _ = checkpoints
    joint = make_joint(teachers).eval()
    # Head 0 always says class 1 of 3; head 1 always says class 4 of 5.
    for fc, winner in zip(joint.head.fcs, (1, 4)):
        torch.nn.init.zeros_(fc.weight)
        torch.nn.init.zeros_(fc.bias)
        fc.bias.data[winner] = 5.0
    # The name wins over the index: the wrapper may order datasets
    # differently from the joint teacher.
    data = samples([0, 1, 1], [0, 2, 3])
    data[2].set_metainfo(dict(dataset_idx=0, dataset_name='shapes'))
    out = joint(torch.rand(3, 3, 32, 32) * 255, data, mode='predict')
    assert [s.dataset_name for s in out] == ['digits', 'shapes', 'shapes']
    assert [s.dataset_idx for s in out] == [0, 1, 1]
    assert [len(s.pred_score) for s in out] == [3, 5, 5]
    assert [int(s.pred_label) for s in out] == [1, 4, 4]
    torch.testing.assert_close(out[0].pred_score.sum(), torch.tensor(1.))


def test_label_outside_head(checkpoints):
    teachers, _ = checkpoints
    joint = make_joint(teachers)
    with pytest.raises(ValueError,
                       match=r"label 3 of dataset 'digits'.*num_classes=3"):
        joint.loss(torch.rand(2, 3, 32, 32) * 255, samples([0, 1], [3, 3]))
    with pytest.raises(ValueError, match=r"dataset_idx 2.*\['digits', "
                       r"'shapes'\]"):
        joint.loss(torch.rand(1, 3, 32, 32) * 255, samples([2], [0]))


def test_heads_must_match_datasets(checkpoints):
    teachers, _ = checkpoints
    with pytest.raises(ValueError, match=r"1 heads \(num_classes=\[3\]\) for "
                       r"2 datasets \['digits', 'shapes'\]"):
        make_joint(teachers, num_classes=[3])
    with pytest.raises(ValueError, match=r"3 heads.*2 datasets"):
        make_joint(teachers, head=dict(type='MultiDatasetClsHead',
                                       num_classes=[3, 5, 7]))
    # One dataset seen by both teachers (same-dataset joint teacher).
    joint = make_joint(teachers, dataset_names=['cifar'], num_classes=[10])
    assert joint.num_classes == [10] and joint.dataset_names == ['cifar']


def test_normalising_preprocessor_refused(checkpoints):
    teachers, _ = checkpoints
    with pytest.raises(ValueError, match='each teacher applies its own'):
        make_joint(teachers, data_preprocessor=dict(
            type='ClsDataPreprocessor', _scope_='mmpretrain',
            mean=[1., 2., 3.], std=[1., 1., 1.]))


def test_different_segment_counts(checkpoints):
    teachers, _ = checkpoints
    clips = [dict(teachers[0], num_segments=2),
             dict(teachers[1], num_segments=4)]
    with pytest.raises(ValueError, match=r"'digits' and 'shapes'.*2 vs 4"):
        make_joint(clips)


def test_clips_consensus(checkpoints):
    teachers, _ = checkpoints
    joint = make_joint([dict(t, num_segments=2) for t in teachers]).eval()
    clips = torch.rand(3, 2, 3, 32, 32) * 255
    out = joint(clips, mode='tensor')
    assert tuple(out['features'][-1].shape) == (6, 8, 1, 1)
    assert [tuple(x.shape) for x in out['logits']] == [(3, 3), (3, 5)]
    # Consensus = mean of the per-frame logits.
    frames = torch.stack([clips[:, 0], clips[:, 1]], dim=1).flatten(0, 1)
    pooled = out['features'][-1].flatten(1)
    per_frame = joint.head.fcs[1](pooled).view(3, 2, 5)
    torch.testing.assert_close(out['logits'][1], per_frame.mean(1))
    assert frames.shape == (6, 3, 32, 32)


def test_clips_through_mmaction_preprocessor(checkpoints):
    from mmaction.structures import ActionDataSample
    teachers, _ = checkpoints
    joint = make_joint(
        [dict(t, num_segments=4) for t in teachers],
        data_preprocessor=dict(type='ActionDataPreprocessor',
                               _scope_='mmaction', format_shape='NCHW'))
    data_samples = []
    for idx, label in ((0, 2), (1, 4)):
        sample = ActionDataSample().set_gt_label(label)
        sample.set_metainfo(dict(dataset_idx=idx))
        data_samples.append(sample)
    batch = dict(inputs=[torch.randint(0, 256, (4, 3, 32, 32),
                                       dtype=torch.uint8) for _ in range(2)],
                 data_samples=data_samples)
    out = joint.val_step(batch)
    assert [type(s) for s in out] == [ActionDataSample] * 2
    assert [len(s.pred_score) for s in out] == [3, 5]
    assert [s.dataset_name for s in out] == ['digits', 'shapes']
    optim = torch.optim.SGD(
        [p for p in joint.parameters() if p.requires_grad], lr=0.1)
    from mmengine.optim import OptimWrapper
    log_vars = joint.train_step(batch, OptimWrapper(optim))
    assert set(log_vars) == {'loss', 'loss_digits', 'loss_shapes'}
    assert torch.isfinite(log_vars['loss'])


def test_init_cfg_never_reaches_teachers(checkpoints):
    teachers, states = checkpoints
    joint = make_joint(
        teachers, init_cfg=dict(type='Constant', val=0.5, layer='Conv2d'))
    joint.init_weights()
    for teacher in joint.teachers:
        for key, value in teacher.backbone.state_dict().items():
            assert torch.equal(value, states[teacher.name][key]), key
    assert torch.all(joint.neck.fusions[0].project[0][1].weight == 0.5)
    # The teachers are back where they were: module and key order unchanged.
    assert list(joint._modules) == ['data_preprocessor', 'teachers', 'neck',
                                    'head']
    assert next(iter(joint.state_dict())).startswith('teachers.0.backbone.')


def test_detached_children_restores_order_also_on_error():
    parent = torch.nn.Sequential(torch.nn.Linear(1, 1), torch.nn.ReLU(),
                                 torch.nn.Linear(1, 2))
    first = parent[0]
    with pytest.raises(ZeroDivisionError):
        with detached_children(parent, ['0']):
            assert list(parent._modules) == ['1', '2']
            assert len(list(parent.parameters())) == 2
            1 / 0
    assert list(parent._modules) == ['0', '1', '2']
    assert parent[0] is first
    with pytest.raises(KeyError, match=r"no child module\(s\) \['teacher'\]"):
        with detached_children(parent, ['teacher']):
            pass


def test_checkpoint_keys_have_no_normalisation_buffers(tmp_path, checkpoints):
    # mean/std come from the config (non-persistent): a joint checkpoint
    # holds the teachers' weights only, and loads into a fresh build.
    teachers, _ = checkpoints
    joint = make_joint(teachers)
    state = joint.state_dict()
    assert not any('mean' in k.split('.')[-1] and 'running' not in k
                   for k in state)
    assert {k.split('.')[2] for k in state if k.startswith('teachers.')} == {
        'backbone'}
    path = str(tmp_path / 'joint.pth')
    torch.save(dict(state_dict=state, meta={}), path)
    other = make_joint([dict(t, checkpoint=None) for t in teachers])
    from mmengine.runner import load_checkpoint
    load_checkpoint(other, path, map_location='cpu', strict=True)
    for key, value in other.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_fusion_aligns_sizes():
    neck = ConcatFusionNeck([[4, 6], [8, 10]], width=5, out_channels=7)
    level0 = [torch.rand(2, 4, 16, 16), torch.rand(2, 6, 8, 8)]
    level1 = [torch.rand(2, 8, 8, 8), torch.rand(2, 10, 4, 4)]
    assert [tuple(x.shape) for x in neck([level0, level1])] == [
        (2, 7, 8, 8), (2, 7, 4, 4)]
    up = ConcatFusionNeck([[4, 6], [8, 10]], width=5, align='max')
    assert [tuple(x.shape) for x in up([level0, level1])] == [
        (2, 5, 16, 16), (2, 5, 8, 8)]
    # Levels 12 -> 4 px: not a stride-2 step, pooled instead.
    odd = ConcatFusionNeck([[4], [8]], width=5)
    out = odd([[torch.rand(2, 4, 12, 12)], [torch.rand(2, 8, 4, 4)]])
    assert tuple(out[1].shape) == (2, 5, 4, 4)
    with pytest.raises(ValueError, match='one entry per teacher'):
        ConcatFusionNeck([[4, 6], [8]])


def test_fusion_shrink_first_same_function_in_eval():
    """shrink_first pools before the projection: the same function of the
    same weights in eval mode; in training only the BN statistics differ
    (those of the pooled map)."""
    torch.manual_seed(0)
    level0 = [torch.randn(4, 4, 16, 16) * 3 + 1, torch.randn(4, 6, 4, 4)]
    level1 = [torch.randn(4, 8, 8, 8), torch.randn(4, 10, 2, 2)]
    after = ConcatFusionNeck([[4, 6], [8, 10]], width=5, out_channels=7)
    first = ConcatFusionNeck([[4, 6], [8, 10]], width=5, out_channels=7,
                             shrink_first=True)
    # running statistics that are not the identity, so the BN acts
    for bn in [m for m in after.modules()
               if isinstance(m, torch.nn.BatchNorm2d)]:
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
    first.load_state_dict(after.state_dict())
    after.eval(), first.eval()
    seen = []
    first.fusions[0].project[0][1].register_forward_hook(
        lambda mod, args, out: seen.append(tuple(args[0].shape[-2:])))
    out_after = after([level0, level1])
    out_first = first([level0, level1])
    assert [tuple(x.shape) for x in out_first] == [(4, 7, 4, 4),
                                                   (4, 7, 2, 2)]
    assert seen == [(4, 4)]  # the 16x16 map was projected at 4x4
    for a, b in zip(out_after, out_first):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    # training: the first teacher's BN sees the pooled 4x4 map (a smaller
    # variance than at 16x16), so its running variance moves less
    after.train(), first.train()
    after([level0, level1]), first([level0, level1])
    var_after = after.fusions[0].project[0][0].running_var
    var_first = first.fusions[0].project[0][0].running_var
    assert bool((var_first < var_after).all())
    with pytest.raises(ValueError, match="shrink_first=True .*align='min'"):
        ConcatFusionNeck([[4, 6]], width=5, align='max', shrink_first=True)


# ----------------------------------------------------------------------
# end to end with mmengine's Runner
# ----------------------------------------------------------------------
def test_runner_trains_joint_teacher(tmp_path, checkpoints):
    from mmengine.runner import Runner
    teachers, states = checkpoints
    roots = [write_image_folder(tmp_path / 'digits', 3, 2, seed=0),
             write_image_folder(tmp_path / 'shapes', 5, 2, seed=1)]
    pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
    wrapper = dict(
        type='MultiDatasetWrapper', names=['digits', 'shapes'],
        datasets=[dict(type='CustomDataset', data_root=r, pipeline=pipeline)
                  for r in roots])
    runner = Runner(
        model=dict(
            type='JointTeacher', teachers=teachers, levels='L2',
            fusion=dict(type='ConcatFusionNeck', width=8),
            head=dict(type='MultiDatasetClsHead', dropout=0.1,
                      label_smoothing=0.1)),
        work_dir=str(tmp_path / 'work'),
        train_dataloader=dict(
            batch_size=4, num_workers=0, dataset=wrapper,
            sampler=dict(type='MultiDatasetSampler', ratio='uniform')),
        val_dataloader=dict(
            batch_size=4, num_workers=0, dataset=wrapper,
            sampler=dict(type='DefaultSampler', shuffle=False)),
        val_evaluator=dict(type='MultiDatasetMetric', topk=(1, 5)),
        train_cfg=dict(by_epoch=False, max_iters=2, val_interval=2),
        val_cfg=dict(),
        optim_wrapper=dict(optimizer=dict(
            type='SGD', lr=0.5, momentum=0.9, weight_decay=0.01)),
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=1),
            checkpoint=dict(type='CheckpointHook', interval=2)),
        default_scope='mmpretrain',
        randomness=dict(seed=0),
    )
    neck_before = joint_neck_weight(runner.model).clone()
    runner.train()
    metrics = runner.val()
    assert {'digits/accuracy_top1', 'shapes/accuracy_top1',
            'shapes/accuracy_top5', 'mean/accuracy_top1'} <= set(metrics)
    assert 'digits/accuracy_top5' not in metrics  # only 3 classes
    assert 0 <= metrics['mean/accuracy_top1'] <= 100
    assert runner.message_hub.get_scalar('val/mean/accuracy_top1')

    model = runner.model
    assert not torch.equal(joint_neck_weight(model), neck_before)
    for teacher in model.teachers:
        for key, value in teacher.backbone.state_dict().items():
            assert torch.equal(value, states[teacher.name][key]), key


def joint_neck_weight(model):
    return model.neck.fusions[0].project[0][1].weight.detach()
