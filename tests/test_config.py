"""mlfd_mm.config: a model config from a dict, a whole config or a file."""
import os.path as osp
import textwrap

import pytest
from mmengine.config import Config, ConfigDict
from mmengine.registry import DefaultScope

from conftest import REPO
from mlfd_mm.config import as_dict, resolve_model_config

TEACHER = osp.join(REPO, 'configs/teachers/offline_mnist_resnet18.py')
VIDEO_TEACHER = osp.join(REPO,
                         'configs/teachers/offline_video_tsm_r18_motion.py')


def _write(path, text):
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_as_dict_is_a_plain_deep_copy():
    nested = ConfigDict(a=dict(b=[1, 2]), c=ConfigDict(d=3))
    plain = as_dict(nested)
    assert plain == dict(a=dict(b=[1, 2]), c=dict(d=3))
    assert type(plain['c']) is dict
    plain['a']['b'].append(3)
    assert nested.a.b == [1, 2]
    source = dict(x=dict(y=1))
    copy = as_dict(source)
    copy['x']['y'] = 2
    assert source['x']['y'] == 1
    assert as_dict(Config(dict(model=dict(type='M')))) == dict(
        model=dict(type='M'))


def test_from_file_merges_preprocessor_and_scope():
    model, scope = resolve_model_config(TEACHER, 'student')
    file_cfg = Config.fromfile(TEACHER)
    assert scope == 'mmpretrain' == model['_scope_']
    assert model['backbone'] == file_cfg.model.backbone.to_dict()
    # The file's top-level data_preprocessor, as mmengine's Runner merges it.
    assert 'data_preprocessor' not in file_cfg.model
    assert model['data_preprocessor'] == file_cfg.data_preprocessor.to_dict()


def test_video_file_takes_its_default_scope():
    model, scope = resolve_model_config(VIDEO_TEACHER, "teacher 'motion'")
    assert scope == 'mmaction' == model['_scope_']
    assert model['type'] == 'Recognizer2D'


def test_model_keeps_its_own_preprocessor_and_scope(tmp_path):
    path = _write(tmp_path / 'own.py', '''
        default_scope = 'mmaction'
        data_preprocessor = dict(mean=[1.], std=[2.])
        model = dict(type='ImageClassifier', _scope_='mmpretrain',
                     data_preprocessor=dict(mean=[5.], std=[6.]))
        ''')
    model, scope = resolve_model_config(path, 'student')
    assert scope == 'mmpretrain'
    assert model['data_preprocessor'] == dict(mean=[5.], std=[6.])


def test_whole_config_dict_is_read_like_a_file():
    whole = dict(default_scope='mmaction',
                 data_preprocessor=dict(mean=[1.], std=[2.]),
                 model=dict(type='Recognizer2D'))
    model, scope = resolve_model_config(whole, 'teacher.config')
    assert scope == 'mmaction'
    assert model == dict(type='Recognizer2D', _scope_='mmaction',
                         data_preprocessor=dict(mean=[1.], std=[2.]))


def test_model_dict_scope_fallbacks():
    model = dict(type='ImageClassifier', backbone=dict(type='ResNet'))
    resolved, scope = resolve_model_config(model, 'student')
    assert resolved == model and resolved is not model
    assert '_scope_' not in resolved
    # No _scope_, no default_scope argument: mmengine's current scope.
    with DefaultScope.overwrite_default_scope('mmaction'):
        assert resolve_model_config(model, 'student')[1] == 'mmaction'
        # The argument wins over the current scope ...
        assert resolve_model_config(model, 'student', 'mmpretrain')[1] == \
            'mmpretrain'
    # ... and the model's own _scope_ over both.
    scoped = dict(model, _scope_='mmaction')
    assert resolve_model_config(scoped, 'student', 'mmpretrain')[1] == \
        'mmaction'


def test_no_scope_anywhere_is_mmpretrain(monkeypatch):
    monkeypatch.setattr(DefaultScope, 'get_current_instance',
                        classmethod(lambda cls: None))
    assert resolve_model_config(dict(type='M'), 'student')[1] == 'mmpretrain'


def test_missing_file_names_what_and_path(tmp_path):
    missing = str(tmp_path / 'nope.py')
    with pytest.raises(FileNotFoundError) as err:
        resolve_model_config(missing, "teacher 'mnist'")
    assert str(err.value) == (
        f"teacher 'mnist': config file not found: {missing}")


def test_file_without_model_names_what_and_file(tmp_path):
    path = _write(tmp_path / 'data_only.py', '''
        train_dataloader = dict(batch_size=2)
        ''')
    with pytest.raises(KeyError) as err:
        resolve_model_config(path, 'teacher.config')
    assert 'teacher.config' in str(err.value)
    assert 'data_only.py' in str(err.value) and '`model`' in str(err.value)


def test_not_a_config_is_a_type_error():
    with pytest.raises(TypeError, match=r"student: .*got int"):
        resolve_model_config(3, 'student')


def _epoch_lrs(schedulers, max_epochs, epoch_length=3):
    """The LR at the start of each epoch, building each scheduler the way
    mmengine's Runner does (``end`` defaults to max_epochs)."""
    import torch
    from mmengine.registry import PARAM_SCHEDULERS
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.05)
    built = []
    for s in schedulers:
        s = dict(s)
        s.setdefault('end', max_epochs)
        built.append(PARAM_SCHEDULERS.build(
            s, default_args=dict(optimizer=opt, epoch_length=epoch_length)))
    lrs = []
    for _ in range(max_epochs):
        lrs.append(opt.param_groups[0]['lr'])
        for _ in range(epoch_length):
            opt.step()
            for b in built:
                if not b.by_epoch:
                    b.step()
        for b in built:
            if b.by_epoch:
                b.step()
    return lrs


def test_offline_schedule_decays_to_the_end_of_any_budget():
    from mlfd_mm.config import fit_schedulers_to_epochs
    cfg = Config.fromfile(TEACHER)
    # the same LRs as the schedule that named end=20, T_max=19
    named = [dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0,
                  end=1, convert_to_iter_based=True),
             dict(type='CosineAnnealingLR', by_epoch=True, begin=1, end=20,
                  T_max=19)]
    assert cfg.train_cfg.max_epochs == 20
    assert _epoch_lrs(fit_schedulers_to_epochs(cfg).param_scheduler, 20) == \
        _epoch_lrs(named, 20)
    # 15 epochs: the last epoch runs near zero, not at 23% of the peak
    cfg.train_cfg.max_epochs = 15
    lrs = _epoch_lrs(fit_schedulers_to_epochs(cfg).param_scheduler, 15)
    assert max(lrs) == pytest.approx(0.05)
    assert lrs[-1] < 0.02 * 0.05
    # 1 epoch: only the warm-up, which mmengine can build
    cfg.train_cfg.max_epochs = 1
    fitted = fit_schedulers_to_epochs(cfg).param_scheduler
    assert [s['type'] for s in fitted] == ['LinearLR']
    assert len(_epoch_lrs(fitted, 1)) == 1
