"""AMTMLDistiller on three tiny random teachers saved as stage-1
checkpoints."""
import copy
import os.path as osp

import mlfd_mm  # noqa: F401  (compat fixes before torchvision)
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope
from mmpretrain.structures import DataSample

from conftest import (MEAN, REPO, STD, image_folder_loader, narrow_resnet,
                      save_teacher_checkpoint, state_copy, tiny_resnet,
                      tiny_resnet_cifar, write_image_folder)
from mlfd_mm.apis.export import export_student
from mlfd_mm.config import auto_checkpoint
from mlfd_mm.models.distillers import AMTMLDistiller
from mlfd_mm.models.distillers.teacher_weights_hook import read_weight_log
from mlfd_mm.report.teacher_weights import (format_teacher_weight_evidence,
                                            teacher_weight_evidence,
                                            weight_statistics)
from mlfd_mm.models.losses import KDLoss, RKDLoss

# Student: ResNet-18 with 4/8/16/32 channels at 8/4/2/1 px (32 px input).
# Teachers: 'cifar' 4/8/16/32 channels at 32/16/8/4 px; 'wide' 8/16/32/64
# at 8/4/2/1 px, with its own mean/std; 'narrow' like the student.
HINTS = dict(
    cifar=dict(teacher_stage=3, student_stage=0),
    wide=dict(teacher_stage=2, student_stage=2),
    narrow=dict(teacher_stage=3, student_stage=3))


def _in_repo(path):
    """A config's path, relative to the repository root or absolute (with
    '..' from the config's own directory), as one absolute path."""
    return osp.normpath(osp.join(REPO, path))


def save_teacher(root, name, cfg, seed):
    path = osp.join(str(root), f'{name}.pth')
    state = save_teacher_checkpoint(cfg, path, seed)
    state['head.fc.weight'].normal_(0, 0.5)  # confident, distinct logits
    torch.save({'state_dict': state, 'meta': {}}, path)
    return dict(name=name, config=cfg, checkpoint=path)


@pytest.fixture(scope='module')
def teachers(tmp_path_factory):
    root = tmp_path_factory.mktemp('teachers')
    return [
        save_teacher(root, 'cifar', tiny_resnet_cifar(5), 0),
        save_teacher(root, 'wide', tiny_resnet(5, mean_std=([100.] * 3,
                                                         [70.] * 3)), 1),
        save_teacher(root, 'narrow', narrow_resnet(5), 2),
    ]


def build(teachers, **kwargs):
    kwargs.setdefault('student', narrow_resnet(5))
    kwargs.setdefault('hints', HINTS)
    kwargs.setdefault('data_preprocessor', dict(mean=MEAN, std=STD))
    torch.manual_seed(0)
    return MODELS.build(dict(type='AMTMLDistiller', teachers=teachers,
                             **kwargs))


def stock_teacher_logits(spec, inputs):
    """A teacher's logits from the stock mmpretrain model."""
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(copy.deepcopy(spec['config']))
    model.load_state_dict(torch.load(spec['checkpoint'])['state_dict'])
    model.eval()
    mean_std = spec['config'].get('data_preprocessor')
    if mean_std:
        mean = torch.tensor(mean_std['mean']).view(1, 3, 1, 1)
        std = torch.tensor(mean_std['std']).view(1, 3, 1, 1)
        inputs = (inputs - mean) / std
    with torch.no_grad():
        return model(inputs, mode='tensor')


# ----------------------------------------------------------------------
# teacher weights
# ----------------------------------------------------------------------
def test_weights_sum_to_one_per_instance_and_follow_the_input(teachers):
    distiller = build(teachers).eval()
    torch.manual_seed(3)
    inputs = torch.rand(6, 3, 32, 32) * 255
    with torch.no_grad():
        out = distiller(inputs, mode='tensor')
    mu = out['teacher_weights']
    assert mu.shape == (6, 3) and out['logits'].shape == (6, 5)
    torch.testing.assert_close(mu.sum(-1), torch.ones(6))
    assert (mu > 0).all()
    # per instance: different images, different weights
    assert (mu - mu.mean(0)).abs().max() > 1e-3

    # the same image gives the same weights whatever else is in the batch
    with torch.no_grad():
        alone = distiller(inputs[2:3], mode='tensor')['teacher_weights']
    torch.testing.assert_close(alone[0], mu[2])


@pytest.mark.parametrize('beta_pool', ['avg', 'max'])
def test_weights_follow_the_pooled_deepest_map(teachers, beta_pool):
    """mu = softmax_k((beta * theta_k) @ W), beta the deepest map pooled
    over space: averaged by default, as the released code's ResNet students
    hand it over, or max-pooled. 64 px input: a 2x2 deepest map, where the
    two differ."""
    distiller = build(teachers, beta_pool=beta_pool).eval()
    torch.manual_seed(3)
    inputs = torch.rand(3, 3, 64, 64) * 255
    with torch.no_grad():
        mu = distiller(inputs, mode='tensor')['teacher_weights']
    deepest = distiller.student_side.features[3]
    assert deepest.shape[-2:] == (2, 2)

    def weights(beta):
        alpha = torch.stack([(beta * theta) @ distiller.latent_weight[:, 0]
                             for theta in distiller.teacher_latents], dim=1)
        return alpha.softmax(-1)

    pooled = dict(avg=deepest.mean(dim=(2, 3)), max=deepest.amax(dim=(2, 3)))
    torch.testing.assert_close(mu, weights(pooled[beta_pool]))
    other = 'max' if beta_pool == 'avg' else 'avg'
    assert (mu - weights(pooled[other])).abs().max() > 1e-4
    with pytest.raises(ValueError, match="beta_pool must be one of"):
        build(teachers, beta_pool='sum')


def test_latent_dim_projects_beta(teachers):
    distiller = build(teachers, latent_dim=6)
    assert distiller.teacher_latents.shape == (3, 6)
    assert distiller.latent_weight.shape == (6, 1)
    assert distiller.beta_projection.weight.shape == (6, 32)
    plain = build(teachers)
    assert plain.teacher_latents.shape == (3, 32)  # the student's width
    assert plain.beta_projection is None


def _pearson_reference(x, y):
    x, y = torch.tensor(x).double(), torch.tensor(y).double()
    return float(torch.corrcoef(torch.stack([x, y]))[0, 1])


def test_weight_statistics_against_correctness():
    """mu against the teachers' correctness: 4 instances, 2 teachers."""
    weights = torch.tensor([[.9, .1], [.2, .8], [.6, .4], [.5, .5]])
    correct = torch.tensor([[1, 0], [0, 1], [0, 1], [1, 1]]).bool()
    stats = weight_statistics(weights, correct)
    assert stats['mean'] == pytest.approx([.55, .45])
    assert stats['std'][0] == pytest.approx(
        torch.tensor([.9, .2, .6, .5]).std(unbiased=False).item())
    assert stats['accuracy'] == pytest.approx([50., 75.])
    # teacher 0: mu .9/.5 where right, .2/.6 where wrong
    assert stats['corr'][0] == pytest.approx(0.6)  # .3 / (.5 * 1)
    # highest mu: teacher 0, 1, 0, 0 (tie: the first) -> right, right,
    # wrong, right; a random teacher: (1/2 + 1/2 + 1/2 + 1) / 4
    assert stats['top_mu_correct'] == pytest.approx(75.)
    assert stats['chance'] == pytest.approx(62.5)
    assert stats['oracle'] == 100. and stats['best_teacher'] == 75.
    assert stats['disagree'] == 3
    assert stats['top_mu_correct_disagree'] == pytest.approx(200 / 3)
    assert stats['chance_disagree'] == pytest.approx(50.)
    # agreement with the student's class: teacher 1 agrees where mu_1 is
    # highest (instance 1) and on instance 3
    agree = torch.tensor([[0, 0], [0, 1], [1, 0], [1, 1]]).bool()
    with_agree = weight_statistics(weights, correct, agree)
    assert with_agree['top_mu_agree'] == pytest.approx(75.)
    assert with_agree['chance_agree'] == pytest.approx(50.)
    assert with_agree['corr_agree'][1] == pytest.approx(
        _pearson_reference([.1, .8, .4, .5], [0, 1, 0, 1]))
    uniform = weight_statistics(torch.full((4, 2), .5), correct)
    assert uniform['corr'] == [None, None] and uniform['std'] == [0., 0.]
    with pytest.raises(ValueError, match='must both be'):
        weight_statistics(weights, correct[:, :1])


# ----------------------------------------------------------------------
# losses
# ----------------------------------------------------------------------
def test_loss_terms_match_their_definitions(teachers, batch):
    inputs, samples, labels = batch
    distiller = build(teachers, temperature=4.0)
    losses = distiller(inputs, samples, mode='loss')
    assert sorted(losses) == [
        'loss_ce', 'loss_hint_cifar_s0', 'loss_hint_narrow_s3',
        'loss_hint_wide_s2', 'loss_kd', 'loss_latent_l2', 'loss_rkd']
    logits = distiller.student_side.logits
    feats = dict(distiller.student_side.features)
    mu = distiller.teacher_weights(feats[3], 4)
    # the batch's weights are summed for the epoch's log, not logged per step
    sums = distiller.pop_weight_sums()
    torch.testing.assert_close(sums.float(), torch.stack(
        [mu.sum(0), mu.pow(2).sum(0), torch.full((3, ), 4.)]).detach())
    assert distiller.pop_weight_sums() is None

    # the integrated target mixes the stock teachers' softened outputs
    probs = torch.stack([
        F.softmax(stock_teacher_logits(spec, inputs) / 4.0, dim=-1)
        for spec in teachers], dim=1)
    target = (mu.detach().unsqueeze(-1) * probs).sum(1)
    torch.testing.assert_close(
        distiller.integrated_target(
            [stock_teacher_logits(s, inputs) for s in teachers],
            mu.detach()), target)
    # released nn.KLDivLoss(): the mean over instances and the 5 classes
    expected_kd = 1.4 * KDLoss(temperature=4.0)(logits,
                                                target_probs=target) / 5
    assert losses['loss_kd'].item() == pytest.approx(expected_kd.item(),
                                                     rel=1e-4)
    batchmean = build(teachers, temperature=4.0, kd_reduction='batchmean')
    assert batchmean(inputs, samples, mode='loss')['loss_kd'].item() == \
        pytest.approx(5 * expected_kd.item(), rel=1e-4)
    expected_ce = 0.3 * F.cross_entropy(logits, torch.tensor(labels))
    assert losses['loss_ce'].item() == pytest.approx(expected_ce.item(),
                                                     rel=1e-5)
    expected_rkd = RKDLoss(distance_weight=1., angle_weight=1.)(logits,
                                                                target)
    assert losses['loss_rkd'].item() == pytest.approx(expected_rkd.item(),
                                                      rel=1e-4)
    expected_l2 = 0.1 * (distiller.latent_weight.pow(2).sum() +
                         distiller.teacher_latents.pow(2).sum())
    assert losses['loss_latent_l2'].item() == pytest.approx(
        expected_l2.item(), rel=1e-5)

    # hints (the released FitNet): 1x1 conv, no BN, on the L2-normalised
    # student map; MSE against the teacher's map at its hint stage,
    # L2-normalised over channels; weight 1 each (summed)
    for (k, _, stage), connector in zip(distiller.hints,
                                        distiller.connectors):
        name = distiller.teacher_names[k]
        assert connector.l2_normalize
        assert [type(m) for m in connector.project] == [torch.nn.Conv2d]
        teacher = distiller.teachers[k]
        assert teacher.levels == [HINTS[name]['teacher_stage']]
        target_map = F.normalize(teacher(inputs)[0], dim=1)
        mapped = connector(feats[stage], target_map.shape[-2:])
        expected = F.mse_loss(mapped, target_map)
        assert losses[f'loss_hint_{name}_s{stage}'].item() == pytest.approx(
            expected.item(), rel=1e-5)


def test_gradients_reach_weights_connectors_student_not_teachers(
        teachers, batch):
    inputs, samples, _ = batch
    # no L2 penalty: theta and W must learn from the soft target itself
    distiller = build(teachers, loss_weights=dict(latent_l2=0.))
    distiller.train()
    assert all(not m.training for t in distiller.teachers
               for m in t.modules())
    teachers_before = state_copy(distiller.teachers)
    student_before = state_copy(distiller.student)
    latents_before = distiller.teacher_latents.detach().clone()
    optimizer = torch.optim.SGD(
        [p for p in distiller.parameters() if p.requires_grad], lr=0.1)
    losses = distiller(inputs, samples, mode='loss')
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    optimizer.step()

    assert distiller.teacher_latents.grad.abs().sum() > 0
    assert distiller.latent_weight.grad.abs().sum() > 0
    assert not torch.equal(distiller.teacher_latents, latents_before)
    connector_grads = [p.grad for c in distiller.connectors
                       for p in c.parameters()]
    assert connector_grads and all(
        g is not None and g.abs().sum() > 0 for g in connector_grads)
    changed = [k for k, v in state_copy(distiller.student).items()
               if not torch.equal(v, student_before[k])]
    assert any(k.startswith('backbone.layer1') for k in changed)
    assert any(k.startswith('head.fc') for k in changed)
    # the teachers: no gradient, bit-identical (BN statistics included)
    assert all(p.grad is None and not p.requires_grad
               for p in distiller.teachers.parameters())
    for key, value in state_copy(distiller.teachers).items():
        assert torch.equal(value, teachers_before[key]), key


def test_equal_weights_variant(teachers, batch):
    inputs, samples, _ = batch
    distiller = build(teachers, adaptive=False)
    assert distiller.teacher_latents is None
    assert distiller.latent_weight is None
    names = {n for n, _ in distiller.named_parameters()}
    assert not any('latent' in n for n in names)
    losses = distiller(inputs, samples, mode='loss')
    assert 'loss_latent_l2' not in losses
    sums = distiller.pop_weight_sums()
    torch.testing.assert_close(sums[0] / sums[2], torch.full(
        (3, ), 1 / 3, dtype=torch.float64))
    logits = distiller.student_side.logits
    target = torch.stack([
        F.softmax(stock_teacher_logits(spec, inputs) / 5.0, dim=-1)
        for spec in teachers]).mean(0)
    expected = 1.4 * KDLoss(temperature=5.0)(logits,
                                             target_probs=target) / 5
    assert losses['loss_kd'].item() == pytest.approx(expected.item(),
                                                     rel=1e-4)
    with torch.no_grad():
        mu = distiller(inputs, mode='tensor')['teacher_weights']
    torch.testing.assert_close(mu, torch.full((4, 3), 1 / 3))


def test_weights_respected_and_zero_terms_skipped(teachers, batch):
    inputs, samples, _ = batch
    no_hints = build(teachers, loss_weights=dict(hint=0.))
    assert len(no_hints.connectors) == 0
    assert not any(k.startswith('loss_hint')
                   for k in no_hints(inputs, samples, mode='loss'))
    with pytest.raises(KeyError, match=r"unknown loss_weights \['mse'\]"):
        build(teachers, loss_weights=dict(mse=1.))
    with pytest.raises(ValueError, match='>= 0'):
        build(teachers, loss_weights=dict(kd=-1.))


# ----------------------------------------------------------------------
# hint map and label spaces
# ----------------------------------------------------------------------
def test_hint_map_validates(teachers):
    with pytest.raises(ValueError) as err:
        build(teachers, hints=dict(resnet=dict(teacher_stage=1,
                                               student_stage=1)))
    assert "teacher 'resnet' does not exist" in str(err.value)
    assert "['cifar', 'wide', 'narrow']" in str(err.value)

    with pytest.raises(ValueError) as err:
        build(teachers, hints=dict(wide=dict(teacher_stage=1,
                                             student_stage=6)))
    assert "hints['wide']: student stage 6 does not exist" in str(err.value)
    assert '[0, 1, 2, 3]' in str(err.value)

    with pytest.raises(ValueError) as err:
        build(teachers, hints=dict(cifar=dict(teacher_stage=7,
                                              student_stage=1)))
    message = str(err.value)
    assert "hints['cifar']: teacher stage 7 does not exist" in message
    assert "'L1'..'L4'" in message and '0..3' in message

    with pytest.raises(ValueError, match=r"hints\['wide'\] must be dict"):
        build(teachers, hints=dict(wide=(1, 2)))
    with pytest.raises(ValueError, match='names must be unique'):
        build([teachers[0], dict(teachers[1], name='cifar')], hints={})
    with pytest.raises(ValueError, match=r'teachers\[1\] has no `name`'):
        build([teachers[0], dict(config=teachers[1]['config'])], hints={})


def test_soft_targets_need_one_label_space(teachers, tmp_path, batch):
    inputs, samples, _ = batch
    three_classes = save_teacher(tmp_path, 'digits', tiny_resnet_cifar(3), 5)
    mixed = [teachers[0], three_classes]
    hints = dict(cifar=HINTS['cifar'],
                 digits=dict(teacher_stage=2, student_stage=1))
    with pytest.raises(ValueError) as err:
        build(mixed, hints=hints)
    message = str(err.value)
    assert "{'cifar': 5, 'digits': 3}" in message
    assert 'label spaces differ' in message and 'kd=0 and rkd=0' in message
    with pytest.raises(ValueError, match="class counts {'cifar': 5, "
                       "'digits': 3}"):
        build(mixed, hints=hints, loss_weights=dict(kd=0.))

    # hints only: fine across label spaces; no heads, no teacher weights
    hints_only = build(mixed, hints=hints,
                       loss_weights=dict(kd=0., rkd=0.))
    assert all(t.head is None for t in hints_only.teachers)
    assert hints_only.teacher_latents is None
    losses = hints_only(inputs, samples, mode='loss')
    assert sorted(losses) == ['loss_ce', 'loss_hint_cifar_s0',
                              'loss_hint_digits_s1']
    with torch.no_grad():
        assert hints_only(inputs, mode='tensor')['teacher_weights'] is None
    with pytest.raises(ValueError, match="'digits' has no hint"):
        build(mixed, hints=dict(cifar=HINTS['cifar']),
              loss_weights=dict(kd=0., rkd=0.))

    with pytest.raises(ValueError, match='student head has 7 classes but '
                       'the teachers have 5'):
        build(teachers, student=narrow_resnet(7))


# ----------------------------------------------------------------------
# the student
# ----------------------------------------------------------------------
def test_student_is_stock_and_exports(teachers, batch, tmp_path):
    """The student's data flow is the stock model's, and
    tools/export_student.py turns an AMTML checkpoint into a stock model
    with the same logits."""
    inputs, samples, _ = batch
    student_cfg = narrow_resnet(5)
    config = dict(
        default_scope='mmpretrain',
        model=dict(type='AMTMLDistiller', student=student_cfg,
                   teachers=teachers, hints=HINTS),
        data_preprocessor=dict(num_classes=5, mean=MEAN, std=STD))
    config_path = str(tmp_path / 'amtml_tiny.py')
    Config(config).dump(config_path)

    torch.manual_seed(0)
    distiller = build(teachers, student=student_cfg)
    optimizer = torch.optim.SGD(
        [p for p in distiller.parameters() if p.requires_grad], lr=0.1)
    losses = distiller(inputs, samples, mode='loss')
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    optimizer.step()  # trained weights, BN statistics moved
    checkpoint = str(tmp_path / 'amtml.pth')
    torch.save({'state_dict': distiller.state_dict(), 'meta': {}},
               checkpoint)

    ckpt_path, cfg_path = export_student(
        config_path, checkpoint, str(tmp_path / 'export'))
    assert 'mlfd_mm' not in open(cfg_path).read()
    exported = Config.fromfile(cfg_path)
    assert exported.model.type == 'ImageClassifier'
    assert tuple(exported.model.backbone.out_indices) == (3, )
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        stock = MODELS.build(exported.model)
    stock.load_state_dict(
        torch.load(ckpt_path, weights_only=True)['state_dict'], strict=True)
    stock.eval()
    distiller.eval()
    with torch.no_grad():
        data = stock.data_preprocessor(dict(inputs=list(inputs)), False)
        expected = distiller(inputs, mode='tensor')['logits']
        torch.testing.assert_close(stock(data['inputs'], mode='tensor'),
                                   expected)
        predictions = distiller(inputs, samples, mode='predict')
    assert [int(p.pred_label) for p in predictions] == \
        expected.argmax(-1).tolist()


def test_runner_trains_weights_and_logs_them(teachers, tmp_path):
    from mmengine.runner import Runner
    data_root = write_image_folder(tmp_path / 'data', 5, 2, seed=0)
    loader = image_folder_loader(data_root)
    cfg = Config(dict(
        default_scope='mmpretrain', work_dir=str(tmp_path / 'work'),
        model=dict(type='AMTMLDistiller', student=narrow_resnet(5),
                   teachers=teachers, hints=HINTS),
        data_preprocessor=dict(num_classes=5, mean=MEAN, std=STD),
        train_dataloader=loader, val_dataloader=loader,
        val_evaluator=dict(type='Accuracy', topk=(1, )),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.05,
                                          momentum=0.9)),
        train_cfg=dict(by_epoch=True, max_epochs=1, val_interval=1),
        val_cfg=dict(),
        default_hooks=dict(logger=dict(type='LoggerHook', interval=1),
                           checkpoint=dict(type='CheckpointHook',
                                           interval=1)),
        custom_hooks=[dict(type='JointTeacherAccuracyHook'),
                      dict(type='TeacherWeightsHook')],
        randomness=dict(seed=0), log_level='WARNING'))
    runner = Runner.from_cfg(cfg)
    teachers_before = state_copy(runner.model.teachers)
    latents_before = runner.model.teacher_latents.detach().clone()
    runner.train()
    model = runner.model
    assert not torch.equal(model.teacher_latents, latents_before)
    for key, value in state_copy(model.teachers).items():
        assert torch.equal(value, teachers_before[key]), key
    # one entry per epoch: mean and spread of mu over the 10 images
    log = read_weight_log(osp.join(str(tmp_path / 'work'),
                                   'teacher_weights.json'))
    assert log['teachers'] == ['cifar', 'wide', 'narrow']
    [entry] = log['epochs']
    assert entry['epoch'] == 1 and entry['instances'] == 10
    assert sum(entry['mean']) == pytest.approx(1., abs=1e-6)
    assert all(0 < s < 0.5 for s in entry['std'])
    # and the report's per-epoch curves read them from scalars.json
    from mlfd_mm.report.run_reader import epoch_curves, read_scalars
    _, train = epoch_curves(read_scalars(str(tmp_path / 'work')))
    assert [train[f'mu_{n}'][1] for n in log['teachers']] == pytest.approx(
        entry['mean'])
    assert 'val/accuracy/top1' in runner.message_hub.log_scalars

    # tools/teacher_weights.py on the finished run (val split: 10 images)
    config = str(tmp_path / 'amtml_run.py')
    cfg.dump(config)
    result = teacher_weight_evidence(
        config, osp.join(str(tmp_path / 'work'), 'epoch_1.pth'), 'val')
    assert result['teachers'] == ['cifar', 'wide', 'narrow']
    assert result['instances'] == 10 and result['epochs'] == log['epochs']
    assert sum(result['mean']) == pytest.approx(1.)
    text = format_teacher_weight_evidence(result)
    assert '| wide |' in text and 'mean mu per training epoch' in text
    assert len(result['corr_agree']) == 3 and 'student\'s class' in text
    plain = tmp_path / 'plain.py'
    plain.write_text("model = dict(type='ImageClassifier')\n")
    with pytest.raises(ValueError, match='not AMTMLDistiller'):
        teacher_weight_evidence(str(plain), 'x.pth')
    assert osp.isfile(osp.join(str(tmp_path / 'work'), 'epoch_1.pth'))


# ----------------------------------------------------------------------
# the offline fashion configs
# ----------------------------------------------------------------------
@pytest.mark.parametrize('stem,backbone', [
    ('offline_fashion_resnet18', 'ResNet_CIFAR'),
    ('offline_fashion_seresnext', 'SEResNeXt'),
])
def test_fashion_teacher_configs(stem, backbone):
    cfg = Config.fromfile(osp.join(REPO, 'configs/teachers', f'{stem}.py'))
    assert cfg.model.backbone.type == backbone
    assert _in_repo(cfg.train_dataloader.dataset.data_root) == \
        _in_repo('data/offline/fashion')
    assert cfg.default_scope == 'mmpretrain'
    assert cfg.data_preprocessor.mean == [72.76] * 3
    model_cfg = cfg.model.to_dict()
    model_cfg['data_preprocessor'] = cfg.data_preprocessor.to_dict()
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(model_cfg).eval()
    assert type(model).__module__.startswith('mmpretrain.')
    with torch.no_grad():
        assert model(torch.randn(2, 3, 32, 32), mode='tensor').shape == (2,
                                                                         10)


def _build_from_config(stem):
    path = stem if stem.startswith('configs/') else f'configs/amtml/{stem}.py'
    cfg = Config.fromfile(_in_repo(path))
    model_cfg = cfg.model.to_dict()
    for spec in model_cfg['teachers']:
        spec['checkpoint'] = None  # random teachers: no stage-1 runs here
    model_cfg['data_preprocessor'] = cfg.data_preprocessor.to_dict()
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return cfg, MODELS.build(model_cfg)


@pytest.mark.parametrize('stem,adaptive,num_hints', [
    ('amtml_fashion_tinynet', True, 3),
    ('amtml_fashion_tinynet_equal', False, 3),
    ('mtkd_fashion_tinynet_vanilla', False, 0),
])
def test_fashion_amtml_configs(stem, adaptive, num_hints):
    cfg, distiller = _build_from_config(stem)
    assert isinstance(distiller, AMTMLDistiller)
    assert distiller.teacher_names == ['resnet18', 'tinynet', 'seresnext']
    # checkpoint='auto': each teacher's tools/train.py run
    assert [auto_checkpoint(spec.config, f'teachers/{spec.name}')
            for spec in cfg.model.teachers
            if spec.checkpoint == 'auto'] == [
        f'work_dirs/offline_fashion_{n}/best.pth'
        for n in distiller.teacher_names]
    assert (distiller.teacher_latents is not None) == adaptive
    assert len(distiller.connectors) == num_hints
    if num_hints:
        # each hint joins maps of the same size: 8, 4 and 2 px at 32 px
        assert distiller.hints == [(0, 0, 1), (1, 0, 2), (2, 0, 3)]
        assert [t.spatial_sizes[0] for t in distiller.teachers] == [
            (8, 8), (4, 4), (2, 2)]

    torch.manual_seed(0)
    inputs = torch.rand(2, 3, 32, 32) * 255
    samples = [DataSample().set_gt_label(k) for k in (1, 7)]
    losses = distiller(inputs, samples, mode='loss')
    assert {'loss_ce', 'loss_kd'} <= set(losses)
    assert len([k for k in losses if k.startswith('loss_hint')]) == num_hints
    assert all(torch.isfinite(v) for v in losses.values())

    # the student is the stock fashion TinyNet-E
    teacher_cfg = Config.fromfile(_in_repo(cfg.model.student))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        stock = MODELS.build(teacher_cfg.model)
    stock.load_state_dict(distiller.student.state_dict(), strict=True)


@pytest.mark.parametrize('config,teacher', [
    ('configs/baselines/kd_fashion_tinynet_own.py', 'tinynet'),
    ('configs/baselines/kd_fashion_tinynet_deeper.py', 'seresnext'),
])
def test_single_teacher_kd_configs(config, teacher):
    """Single-dataset KD: one teacher, weight 1, only the soft-target and CE
    terms, with the MLFD students' weights (0.6 KD at T = 2, 1.0 CE)."""
    cfg, distiller = _build_from_config(config)
    assert distiller.teacher_names == [teacher]
    assert len(distiller.connectors) == 0
    torch.manual_seed(0)
    inputs = torch.rand(2, 3, 32, 32) * 255
    samples = [DataSample().set_gt_label(k) for k in (1, 7)]
    losses = distiller(inputs, samples, mode='loss')
    assert {k for k in losses if k.startswith('loss')} == {'loss_ce',
                                                            'loss_kd'}
    logits = distiller.student(distiller.student_inputs(inputs),
                               mode='tensor')
    with torch.no_grad():
        target = distiller.teachers[0].forward_with_logits(inputs)[1]
    expected = 0.6 * KDLoss(temperature=2.0)(logits, target)
    assert torch.allclose(losses['loss_kd'], expected, atol=1e-5)
    weights = distiller(inputs, mode='tensor')['teacher_weights']
    assert torch.equal(weights, torch.ones(2, 1))


def test_fashion_mlfd_comparison_configs():
    """The MLFD counterpart: a same-dataset joint teacher of the three
    fashion teachers, and its TinyNet-E student."""
    joint = Config.fromfile(_in_repo(
        'configs/amtml/joint_fashion_same_dataset.py')).model.to_dict()
    assert [t['name'] for t in joint['teachers']] == [
        'resnet18', 'tinynet', 'seresnext']
    for spec in joint['teachers']:
        spec['checkpoint'] = None
    cfg = Config.fromfile(_in_repo('configs/amtml/mlfd_fashion_tinynet.py'))
    assert _in_repo(cfg.model.teacher.config) == \
        _in_repo('configs/amtml/joint_fashion_same_dataset.py')
    model_cfg = cfg.model.to_dict()
    model_cfg['teacher'] = dict(config=joint, checkpoint=None)
    model_cfg['data_preprocessor'] = cfg.data_preprocessor.to_dict()
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        distiller = MODELS.build(model_cfg)
    assert distiller.teacher.dataset_names == ['fashion']
    assert distiller.teacher.num_classes == [10]
    assert distiller.pairs == [(2, 0), (3, 1), (4, 2)]


def test_pipeline_config_wiring(monkeypatch):
    """Every config of the AMTML pipeline exists, and the runner's
    set_student_teachers fills an AMTML student's teachers by name."""
    from mlfd_mm.apis import set_student_teachers
    monkeypatch.chdir(REPO)
    pipe = Config.fromfile('configs/pipelines/amtml_fashion.py')
    paths = [*pipe.teachers.values(), pipe.joint_teacher,
             *pipe.students.values()]
    assert all(osp.isfile(p) for p in paths), paths
    keys = {f'teachers/{n}' for n in pipe.teachers} | {'joint'} | {
        f'students/{n}' for n in pipe.students}
    assert {key for _, key in pipe.table} <= keys
    done = {f'teachers/{n}': dict(checkpoint=f'/runs/{n}/best.pth',
                                  config=f'/runs/{n}/config.py')
            for n in pipe.teachers}
    extra = Config.fromfile('configs/pipelines/amtml_fashion_extra.py')
    assert _in_repo(extra.stages_of) == \
        _in_repo('configs/pipelines/amtml_fashion.py')
    assert {key for _, key in extra.table} <= {
        f'teachers/{n}' for n in extra.teachers} | {
            f'students/{n}' for n in extra.students}
    for path in (pipe.students.amtml, pipe.students.vanilla,
                 extra.students.equal):
        cfg = Config.fromfile(path)
        set_student_teachers(cfg, done)
        assert [t.checkpoint for t in cfg.model.teachers] == [
            f'/runs/{n}/best.pth' for n in ('resnet18', 'tinynet',
                                            'seresnext')]
    cfg = Config.fromfile(extra.students.kd_deeper)
    set_student_teachers(cfg, done)
    assert [t.checkpoint for t in cfg.model.teachers] == [
        '/runs/seresnext/best.pth']


# ----------------------------------------------------------------------
# issue #15: the quarter-width ResNet-18 student and its baselines
# ----------------------------------------------------------------------
@pytest.mark.parametrize('stem,adaptive,teachers_,num_hints,l2', [
    ('amtml_fashion_w4', True, ['resnet18', 'tinynet', 'seresnext'], 3, .1),
    ('amtml_fashion_w4_no_l2', True, ['resnet18', 'tinynet', 'seresnext'],
     3, 0.),
    ('mtkd_fashion_w4_equal', False, ['resnet18', 'tinynet', 'seresnext'],
     0, .1),
    ('kd_fashion_w4_seresnext', False, ['seresnext'], 0, .1),
    ('kd_fashion_w4_resnet18', False, ['resnet18'], 0, .1),
    ('amtml_fashion_w4_ce1', True, ['resnet18', 'tinynet', 'seresnext'], 3,
     .1),
    ('mtkd_fashion_w4_equal_ce1', False,
     ['resnet18', 'tinynet', 'seresnext'], 0, .1),
    ('amtml_fashion_w4_equal', False, ['resnet18', 'tinynet', 'seresnext'],
     3, .1),
])
def test_w4_student_configs(stem, adaptive, teachers_, num_hints, l2):
    cfg, distiller = _build_from_config(stem)
    assert distiller.teacher_names == teachers_
    assert (distiller.teacher_latents is not None) == adaptive
    assert distiller.loss_weights['latent_l2'] == l2
    assert distiller.temperature == 5.0 and distiller.kd_reduction == 'mean'
    assert distiller.beta_pool == 'avg'
    assert len(distiller.connectors) == num_hints
    if num_hints:
        # one student stage per teacher, same size: 16, 8 and 4 px
        assert distiller.hints == [(0, 0, 1), (1, 0, 2), (2, 0, 3)]
        assert [t.spatial_sizes[0] for t in distiller.teachers] == [
            (16, 16), (8, 8), (4, 4)]
    # theta and W: no weight decay, the latent L2 term only
    custom = cfg.optim_wrapper.paramwise_cfg.custom_keys
    assert custom.teacher_latents.decay_mult == 0.
    assert custom.latent_weight.decay_mult == 0.
    assert dict(type='TeacherWeightsHook') in cfg.custom_hooks
    # the student: the stock quarter-width ResNet-18 (4..32 channels)
    student_cfg = Config.fromfile(_in_repo(cfg.model.student))
    assert student_cfg.model.backbone.base_channels == 4
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        stock = MODELS.build(student_cfg.model)
    stock.load_state_dict(distiller.student.state_dict(), strict=True)
    assert sum(p.numel() for p in stock.parameters()) < 50_000
    torch.manual_seed(0)
    inputs = torch.rand(2, 3, 32, 32) * 255
    samples = [DataSample().set_gt_label(k) for k in (1, 7)]
    losses = distiller(inputs, samples, mode='loss')
    assert len([k for k in losses if k.startswith('loss_hint')]) == num_hints
    assert all(torch.isfinite(v) for v in losses.values())


def test_w4_pipeline_wiring(monkeypatch):
    from mlfd_mm.apis import set_student_teachers
    monkeypatch.chdir(REPO)
    pipe = Config.fromfile('configs/pipelines/amtml_fashion_w4.py')
    paths = [*pipe.teachers.values(), pipe.joint_teacher,
             *pipe.students.values()]
    assert all(osp.isfile(p) for p in paths), paths
    keys = {f'teachers/{n}' for n in pipe.teachers} | {'joint'} | {
        f'students/{n}' for n in pipe.students}
    assert [key for _, key in pipe.table] and \
        {key for _, key in pipe.table} <= keys
    assert pipe.baseline == 'teachers/student'
    done = {f'teachers/{n}': dict(checkpoint=f'/runs/{n}/best.pth',
                                  config=f'/runs/{n}/config.py')
            for n in pipe.teachers}
    for name in ('equal', 'amtml', 'amtml_no_l2', 'kd_seresnext',
                 'kd_resnet18',
                 'equal_ce1', 'amtml_ce1', 'amtml_equal'):
        cfg = Config.fromfile(pipe.students[name])
        set_student_teachers(cfg, done)
        assert all(t.checkpoint == f'/runs/{t.name}/best.pth'
                   for t in cfg.model.teachers)
    mlfd = Config.fromfile(pipe.students.mlfd)
    assert _in_repo(mlfd.model.student) == _in_repo(pipe.teachers.student)
    assert list(mlfd.model.distill) == [(1, 'l1'), (2, 'l2'), (3, 'l3')]
    for name in ('equal_ce1', 'amtml_ce1'):
        assert Config.fromfile(
            pipe.students[name]).model.loss_weights.ce == 1.0
