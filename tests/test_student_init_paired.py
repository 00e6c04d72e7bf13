"""student_init='paired' (issue #14): a student starts from the random
initial weights of its dataset's stage-1 run, drawn again."""
import mlfd_mm  # noqa: F401  (compat fixes before torchvision)
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from mmengine.runner import Runner

from conftest import (distiller_config, make_image_folder, make_joint_teacher,
                      narrow_resnet, state_copy, tiny_resnet)
from mlfd_mm.apis.stage_overrides import set_student_init
from mlfd_mm.models.initial_weights import stage1_initial_weights


class _Stop(Exception):
    pass


@HOOKS.register_module(force=True)
class _InitialWeightsHook(Hook):
    """Keeps the model's state at ``before_train`` (after the Runner's
    ``init_weights``, before any step), then stops the run."""

    def before_train(self, runner):
        model = runner.model
        _InitialWeightsHook.state = state_copy(
            model.student if hasattr(model, 'student') else model)
        raise _Stop


def _initial_weights_of_run(cfg):
    cfg = Config(cfg)
    cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + [
        dict(type='_InitialWeightsHook')]
    with pytest.raises(_Stop):
        Runner.from_cfg(cfg).train()
    return _InitialWeightsHook.state


def _stage1_config(tmp_path, model, seed):
    """A stage-1 config file of ``model`` (a tiny ResNet: Kaiming convs
    and a Normal head, drawn in init_weights after the Runner built its
    loaders and optimizer)."""
    data_root = make_image_folder(tmp_path / 'data')
    cfg = distiller_config(None, data_root, tmp_path / 'stage1')
    cfg.update(model=model, custom_hooks=[], randomness=dict(seed=seed))
    path = str(tmp_path / 'stage1.py')
    Config(cfg).dump(path)
    return path, cfg


def _equal(a, b):
    assert sorted(a) == sorted(b)
    return all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope='module')
def teacher(tmp_path_factory):
    return make_joint_teacher(tmp_path_factory.mktemp('joint'))


def test_drawn_again_as_a_stage1_runner_draws_them(tmp_path):
    path, cfg = _stage1_config(tmp_path, narrow_resnet(5), seed=3)
    actual = _initial_weights_of_run(cfg)
    before = torch.get_rng_state()
    drawn = stage1_initial_weights(path)
    assert torch.equal(torch.get_rng_state(), before)  # nothing drawn here
    assert _equal(drawn, actual)
    # the head's Normal(0.01) and the convs' Kaiming: init_weights ran
    assert drawn['head.fc.weight'].std() < 0.02
    assert not _equal(stage1_initial_weights(path, seed=4), actual)


def test_paired_student_starts_where_its_stage1_run_started(tmp_path,
                                                            teacher):
    path, stage1 = _stage1_config(tmp_path, narrow_resnet(5), seed=3)
    stage1_start = _initial_weights_of_run(stage1)
    cfg = distiller_config(teacher, stage1['train_dataloader']['dataset'][
        'data_root'], tmp_path / 'student')
    cfg['randomness'] = dict(seed=3)
    fresh = _initial_weights_of_run(cfg)
    assert not _equal(fresh, stage1_start)  # the teacher drew first
    # inside the distiller the student's own init_cfg applies (mmpretrain
    # ResNet: Kaiming, fan_out; PyTorch's default would give 0.048 here)
    conv = fresh['backbone.layer3.1.conv2.weight']
    assert conv.std().item() == pytest.approx(
        (2 / (conv.size(0) * 9)) ** 0.5, rel=0.15)
    cfg['model']['student_init'] = dict(paired_with=path)
    assert _equal(_initial_weights_of_run(cfg), stage1_start)


def test_paired_needs_the_same_architecture(tmp_path, teacher):
    path, _ = _stage1_config(tmp_path, tiny_resnet(5, mean_std=None),
                             seed=0)
    from mmengine.registry import MODELS
    distiller = MODELS.build(dict(
        type='MLFDDistiller', teacher=teacher, student=narrow_resnet(5),
        dataset='shapes', student_init=dict(paired_with=path)))
    with pytest.raises(ValueError, match=(
            r"architecture differs .*shape mismatch .*"
            r'backbone\.layer1\.0\.conv1\.weight \(checkpoint \(8, 8')):
        distiller.init_weights()


def test_paired_options_and_pipeline(tmp_path, teacher):
    from mmengine.registry import MODELS

    def build(init):
        return MODELS.build(dict(
            type='MLFDDistiller', teacher=teacher, student=narrow_resnet(5),
            dataset='shapes', student_init=init))

    with pytest.raises(ValueError, match='filled in by tools/run_pipeline'
                       r'.*dict\(paired_with='):
        build('paired')
    with pytest.raises(KeyError, match=r"got keys \['config'\]"):
        build(dict(config='x.py'))
    no_seed, _ = _stage1_config(tmp_path, narrow_resnet(5), seed=None)
    with pytest.raises(ValueError, match='no randomness.seed'):
        stage1_initial_weights(no_seed)
    _, fine_tuned = _stage1_config(tmp_path / 'ft', narrow_resnet(5), seed=0)
    fine_tuned['load_from'] = 'k400.pth'
    with pytest.raises(ValueError, match=r"load_from='k400.pth', not from "
                       'random weights'):
        stage1_initial_weights(fine_tuned)
    cfg = Config(dict(model=dict(student_init='paired', dataset='shapes')))
    set_student_init(cfg, {'teachers/shapes': dict(
        checkpoint='/r/s.pth', config='/r/config.py')})
    assert cfg.model.student_init == dict(paired_with='/r/config.py')
    cfg = Config(dict(model=dict(student_init='paired', dataset='cars')))
    with pytest.raises(KeyError, match=r"'paired'.*'teachers/cars'"):
        set_student_init(cfg, {'teachers/x': dict(checkpoint='x.pth')})



_RECIPES = 'configs/mlfd/recipes/'
_PAIRED_PIPELINES = [
    ('offline_paired', 'offline', {
        name: f'configs/mlfd/student_offline_{name}.py'
        for name in ('mnist', 'fashion', 'animals')}),
    ('offline_arch2_paired', 'offline_arch2', {
        name: f'configs/mlfd/student_arch2_{name}.py'
        for name in ('fashion', 'digits')}),
] + [(f'recipes/fashion_paired_{variant}', 'offline', {
    'fashion': f'{_RECIPES}student_offline_fashion_{variant}.py'})
     for variant in ('ce_only', 'kd_only', 'kd_t4', 'warmup', 'l3_only')]


@pytest.mark.parametrize('pipeline,default,unpaired', _PAIRED_PIPELINES)
def test_paired_pipelines_differ_in_student_init_only(pipeline, default,
                                                      unpaired):
    """Each paired pipeline reuses its default pipeline's stage-1/2 runs;
    each of its students is an existing student config with
    student_init='paired' and nothing else changed."""
    import os.path as osp
    repo = osp.dirname(osp.dirname(osp.abspath(__file__)))
    configs = osp.join(repo, 'configs', 'pipelines')
    base = Config.fromfile(osp.join(configs, default + '.py'))
    pipe = Config.fromfile(osp.join(configs, pipeline + '.py'))
    assert osp.normpath(pipe.stages_of) == osp.join(configs, default + '.py')
    assert (pipe.teachers, pipe.joint_teacher) == (base.teachers,
                                                   base.joint_teacher)
    assert sorted(pipe.students) == sorted(unpaired)
    for name, path in pipe.students.items():
        paired = Config.fromfile(path).to_dict()
        alone = Config.fromfile(osp.join(repo, unpaired[name])).to_dict()
        assert paired['model'].pop('student_init') == 'paired'
        assert alone['model'].pop('student_init', None) is None
        assert paired == alone
