"""DistillDiagnosticsHook and LossWeightScheduleHook (issue #14)."""
import mlfd_mm  # noqa: F401  (compat fixes before torchvision)
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import MODELS

from conftest import (MEAN, PAIRS, STD, distiller_config, make_image_folder,
                      make_joint_teacher, narrow_resnet, state_copy)
from mlfd_mm.engine import LossWeightScheduleHook


@pytest.fixture(scope='module')
def teacher(tmp_path_factory):
    return make_joint_teacher(tmp_path_factory.mktemp('joint'))


def build_distiller(teacher, **kwargs):
    torch.manual_seed(0)
    return MODELS.build(dict(
        type='MLFDDistiller', teacher=teacher, student=narrow_resnet(5),
        dataset='shapes', distill=PAIRS,
        data_preprocessor=dict(mean=MEAN, std=STD), **kwargs))


def test_schedule_factor_and_arguments():
    warm = LossWeightScheduleHook(('kd', 'feature'), 0., 1., begin=1, end=3)
    assert [warm.factor(e) for e in (0, 1, 1.5, 2, 3, 10)] == \
        [0., 0., 0.25, 0.5, 1., 1.]
    decay = LossWeightScheduleHook(['feature'], 1., 0., end=4)
    assert decay.factor(1) == pytest.approx(0.75)
    with pytest.raises(ValueError, match='begin < end'):
        LossWeightScheduleHook(['kd'], 0., 1., begin=2, end=2)
    with pytest.raises(ValueError, match='non-empty list'):
        LossWeightScheduleHook('kd', 0., 1.)
    with pytest.raises(ValueError, match='>= 0'):
        LossWeightScheduleHook(['kd'], -1., 1.)


def test_scale_loss_weights(teacher, batch):
    inputs, samples, _ = batch
    distiller = build_distiller(teacher)
    full = distiller(inputs, samples, mode='loss')
    assert distiller.scale_loss_weights(dict(kd=0.5, feature=0.)) == \
        dict(kd=0.3, feature=0., ce=0.2)
    scaled = distiller(inputs, samples, mode='loss')
    assert scaled['loss_kd'].item() == pytest.approx(
        0.5 * full['loss_kd'].item(), rel=1e-5)
    assert not any(k.startswith('loss_feature') for k in scaled)
    # factors apply to the configured weights, not to the last ones
    assert distiller.scale_loss_weights(dict(kd=1.))['kd'] == 0.6
    with pytest.raises(KeyError, match=r"unknown loss weights \['hint'\]"):
        distiller.scale_loss_weights(dict(hint=1.))
    with pytest.raises(ValueError, match="'kd' must be >= 0"):
        distiller.scale_loss_weights(dict(kd=-0.1))


def _run(teacher, tmp_path, name, hooks):
    from mmengine.runner import Runner
    data_root = tmp_path / 'data'
    if not data_root.is_dir():
        make_image_folder(data_root)
    cfg = distiller_config(teacher, str(data_root), tmp_path / name)
    cfg['custom_hooks'] = cfg['custom_hooks'] + hooks
    runner = Runner.from_cfg(Config(cfg))
    runner.train()
    return runner


def test_hooks_in_a_run(teacher, tmp_path):
    runner = _run(teacher, tmp_path, 'diag', [
        dict(type='DistillDiagnosticsHook'),
        dict(type='LossWeightScheduleHook', terms=['kd'], start_factor=0.,
             end_factor=1., begin=0, end=2)])
    model = runner.model.eval()
    hub = runner.message_hub
    # the schedule reached its end factor at the last step (2 epochs of 3
    # iterations: epoch 5/3 at the 6th) and logged it
    assert model.loss_weights['kd'] == pytest.approx(0.6 * 5 / 6)
    assert hub.get_scalar('train/loss_weight_kd').current() == \
        pytest.approx(0.5)

    # recompute the diagnostics on the validation images
    agree = total = 0
    err, spread, cosine = {}, {}, {}
    for data in runner.val_dataloader:
        data = model.data_preprocessor(data, False)
        with torch.no_grad():
            joint = model.teacher(data['inputs'], mode='tensor')
            logits = model(data['inputs'], mode='tensor')
            feats = model.student_side.features
            agree += int((logits.argmax(-1) ==
                          joint['logits'][1].argmax(-1)).sum())
            total += len(logits)
            for (stage, level), conn in zip(model.pairs, model.connectors):
                t = joint['features'][level]
                m = conn(feats[stage], t.shape[-2:])
                key = f's{stage}_l{level + 1}'
                err[key] = err.get(key, 0) + float((m - t).pow(2).sum())
                spread[key] = spread.get(key, 0) + float(
                    (t - t.mean((0, 2, 3), keepdim=True)).pow(2).sum())
                cosine[key] = cosine.get(key, 0) + float(
                    F.cosine_similarity(m.flatten(1), t.flatten(1)).sum())
    assert hub.get_scalar('val/diag/kd_agreement_top1').current() == \
        pytest.approx(100 * agree / total)
    assert sorted(err) == ['s0_l1', 's2_l2', 's3_l3']
    for key in err:
        assert hub.get_scalar(f'val/diag/feature_nmse_{key}').current() == \
            pytest.approx(err[key] / spread[key], rel=1e-4)
        assert hub.get_scalar(f'val/diag/feature_cosine_{key}').current() \
            == pytest.approx(cosine[key] / total, rel=1e-4)
    # training and validation split are the same images here, without
    # augmentation: no gap
    val_top1 = hub.get_scalar('val/accuracy/top1').current()
    assert hub.get_scalar('val/diag/train_accuracy_top1').current() == \
        pytest.approx(val_top1)
    assert hub.get_scalar('val/diag/train_val_gap').current() == \
        pytest.approx(0.)


def test_train_accuracy_of_a_multi_dataset_or_cached_student(teacher,
                                                           tmp_path):
    """A student that also distils another dataset's images (train loader
    a MultiDatasetWrapper) is scored on its own dataset's training split;
    a cached loader's wrapped dataset is scored without its cache; a
    wrapper without the student's dataset is named."""
    from mmengine.runner import Runner
    from mlfd_mm.engine.distill_diagnostics_hook import \
        DistillDiagnosticsHook
    data_root = str(make_image_folder(tmp_path / 'data'))
    cfg = distiller_config(teacher, data_root, tmp_path / 'multi',
                           max_epochs=1)
    plain = cfg['train_dataloader']['dataset']
    # 'digits' is another dataset of the joint teacher: its images (here
    # a copy of the same folder, so training splits of 10 and 20 images
    # would score alike) take part in feature distillation only
    other = dict(plain, indices=[0, 1])
    cfg['model']['feature_only_datasets'] = ['digits']
    # the student's own entry names a config's split, as the _unlabeled
    # configs do
    own = tmp_path / 'shapes.py'
    Config(dict(default_scope='mmpretrain',
                train_dataloader=dict(dataset=plain))).dump(str(own))
    cfg['train_dataloader'] = dict(
        cfg['train_dataloader'],
        dataset=dict(type='MultiDatasetWrapper', names=['digits', 'shapes'],
                     datasets=[other, dict(config=str(own), split='train')]))
    cfg['custom_hooks'] = [dict(type='DistillDiagnosticsHook')]
    runner = Runner.from_cfg(Config(cfg))
    runner.train()
    hook = next(h for h in runner.hooks
                if isinstance(h, DistillDiagnosticsHook))
    assert len(hook._train_split_loader(runner).dataset) == 10
    hub = runner.message_hub
    assert hub.get_scalar('val/diag/train_accuracy_top1').current() == \
        pytest.approx(hub.get_scalar('val/accuracy/top1').current())
    cached = dict(type='CachedFeatureDataset', root='unused',
                  dataset_name='shapes', dataset=plain)
    assert DistillDiagnosticsHook._own_dataset(cached, 'shapes', 'x') == plain
    with pytest.raises(ValueError, match=r"MultiDatasetWrapper of "
                       r"\['digits', 'shapes'\], none of them the "
                       r"student's dataset 'animals'"):
        DistillDiagnosticsHook._own_dataset(
            cfg['train_dataloader']['dataset'], 'animals',
            'train_dataloader')


def test_diagnostics_leave_training_unchanged(teacher, tmp_path):
    plain = _run(teacher, tmp_path, 'plain', [])
    measured = _run(teacher, tmp_path, 'measured',
                    [dict(type='DistillDiagnosticsHook')])
    before, after = state_copy(plain.model.student), \
        state_copy(measured.model.student)
    for key, value in before.items():
        assert torch.equal(value, after[key]), key


def test_schedule_needs_a_distiller(tmp_path):
    from mmengine.runner import Runner
    data_root = make_image_folder(tmp_path / 'data')
    cfg = distiller_config(None, data_root, tmp_path / 'w')
    cfg['model'] = narrow_resnet(5)
    cfg['custom_hooks'] = [dict(type='LossWeightScheduleHook', terms=['kd'],
                                start_factor=0., end_factor=1.)]
    runner = Runner.from_cfg(Config(cfg))
    with pytest.raises(TypeError, match='has no scale_loss_weights'):
        runner.train()


def test_student_init_from_stage1(teacher):
    from mlfd_mm.apis.pipeline import set_student_init
    cfg = Config(dict(model=dict(student_init='stage1', dataset='shapes')))
    set_student_init(cfg, {'teachers/shapes': dict(checkpoint='/r/s.pth')})
    assert cfg.model.student_init == '/r/s.pth'
    cfg = Config(dict(model=dict(student_init='stage1', dataset='cars')))
    with pytest.raises(KeyError, match=r"'teachers/cars'.*\['teachers/x'\]"):
        set_student_init(cfg, {'teachers/x': dict(checkpoint='x.pth')})
    with pytest.raises(ValueError, match='filled in by tools/run_pipeline'):
        build_distiller(teacher, student_init='stage1')
