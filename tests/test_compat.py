"""Each compat fix: the problem it fixes exists without it (where the
installed stack has the problem), and with it the failing thing works."""
import pickle
import textwrap

import pytest
import torch

from conftest import PYTHON, run_tool
from mlfd_mm import compat


def _python(code, check=False):
    return run_tool(PYTHON, '-c', textwrap.dedent(code), check=check)


def test_torchvision_fails_without_fix_and_imports_with_it():
    bare = _python('import torchvision')
    if bare.returncode == 0:
        pytest.skip('torchvision ops load on this stack: fix not needed')
    assert 'torchvision::nms does not exist' in bare.stderr
    fixed = _python('''
        import mlfd_mm
        import torchvision, timm, mmpretrain.models, mmpretrain.datasets
        import torch
        from torchvision.transforms import v2
        try:
            torchvision.ops.nms(torch.rand(2, 4), torch.rand(2), 0.5)
        except RuntimeError as e:
            print('OPS-UNAVAILABLE:', "Couldn't load custom C++ ops" in str(e))
        ''', check=True)
    assert 'OPS-UNAVAILABLE: True' in fixed.stdout


def test_mmaction_models_import_and_drn_placeholder():
    # compat.py loaded on its own: importing the package would apply all.
    bare = _python('''
        import importlib.util
        spec = importlib.util.spec_from_file_location(
            'compat_only', 'mlfd_mm/compat.py')
        c = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(c)
        c.fix_torchvision_ops()
        import mmaction.models
        ''')
    if bare.returncode == 0:
        pytest.skip('this mmaction2 wheel ships DRN: fix not needed')
    assert 'drn' in bare.stderr
    fixed = _python('''
        import mlfd_mm
        import mmaction.models
        from mmaction.registry import MODELS
        try:
            MODELS.build(dict(type='DRN'))
        except Exception as e:
            print('DRN-ERROR:', type(e).__name__, str(e))
        ''', check=True)
    assert 'DRN-ERROR: ImportError' in fixed.stdout
    assert 'mmaction/models/localizers/drn' in fixed.stdout


def test_mmengine_checkpoint_with_pickled_objects_loads(tmp_path):
    from mmengine.logging.history_buffer import HistoryBuffer
    from mmengine.runner import load_checkpoint
    from mmengine.runner.checkpoint import CheckpointLoader
    model = torch.nn.Linear(2, 3)
    buffer = HistoryBuffer()
    buffer.update(0.25)
    ckpt = dict(state_dict=model.state_dict(),
                message_hub=dict(log_scalars={'loss': buffer}))
    path = tmp_path / 'epoch_1.pth'
    torch.save(ckpt, path)
    # The problem: torch's default loader refuses mmengine's objects.
    with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer'):
        torch.load(path)
    loaded = CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    restored = loaded['message_hub']['log_scalars']['loss']
    assert isinstance(restored, HistoryBuffer)
    assert restored.current() == 0.25
    other = torch.nn.Linear(2, 3)
    load_checkpoint(other, str(path), map_location='cpu')
    assert torch.equal(other.weight, model.weight)


def test_checkpoint_fix_keeps_torch_load_strict_for_everyone_else(tmp_path):
    # Importing mlfd_mm allowlists nothing process-wide: plain torch.load
    # still refuses the mmengine checkpoint that mmengine's loader reads.
    from mmengine.logging.history_buffer import HistoryBuffer
    path = tmp_path / 'epoch_1.pth'
    torch.save(dict(message_hub=dict(loss=HistoryBuffer())), path)
    before = set(map(repr, torch.serialization.get_safe_globals()))
    assert not any('HistoryBuffer' in name for name in before)
    from mmengine.runner.checkpoint import CheckpointLoader
    CheckpointLoader.load_checkpoint(str(path))
    assert set(map(repr, torch.serialization.get_safe_globals())) == before
    with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer'):
        torch.load(path)


def test_checkpoint_with_payload_refused_in_a_fresh_process(tmp_path):
    # What a config importing mlfd_mm through custom_imports gets.
    from conftest import write_payload_checkpoint
    marker = tmp_path / 'payload-ran'
    path = write_payload_checkpoint(tmp_path / 'evil.pth', marker)
    proc = _python(f'''
        import mlfd_mm
        from mmengine.runner.checkpoint import CheckpointLoader
        CheckpointLoader.load_checkpoint({path!r})
        ''')
    assert proc.returncode != 0
    assert 'UnsafeCheckpointError' in proc.stderr
    assert path in proc.stderr and 'io.open' in proc.stderr
    assert not marker.exists()


def test_missing_local_checkpoint_names_the_file(tmp_path):
    from mmengine.runner.checkpoint import CheckpointLoader
    missing = tmp_path / 'nope.pth'
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        CheckpointLoader.load_checkpoint(str(missing))


def test_apply_all_is_idempotent():
    first = compat.apply_all()
    second = compat.apply_all()
    assert set(first) == {'torchvision_ops', 'mmaction_drn',
                          'checkpoint_loading', 'config_formatting'}
    assert not any(second.values())
    import torchvision  # noqa: F401  still importable after a second apply


def test_prepare_cpu_distributed_is_a_no_op_without_launcher():
    from mmengine.config import Config
    cfg = Config(dict(model=dict()))
    assert compat.prepare_cpu_distributed(cfg, 'none') is False
    assert 'model_wrapper_cfg' not in cfg


def test_prepare_cpu_distributed_rejects_unknown_launcher(monkeypatch):
    from mmengine.config import Config
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    with pytest.raises(ValueError, match="'mpi'"):
        compat.prepare_cpu_distributed(Config(dict()), 'mpi')


def test_config_text_is_formatted_once_per_distinct_config(monkeypatch):
    import mmengine.config.config as config_module
    from mmengine.config import Config
    from yapf.yapflib.yapf_api import FormatCode
    memoised = config_module.FormatCode
    assert isinstance(memoised, compat._MemoisedFormatCode)
    calls = []

    def counting(*args, **kwargs):
        calls.append(args[0])
        return FormatCode(*args, **kwargs)

    monkeypatch.setattr(memoised, 'format_code', counting)
    monkeypatch.setattr(memoised, 'results', {})
    cfg = Config(dict(model=dict(type='ImageClassifier', depth=18),
                      train_cfg=dict(max_epochs=20)))
    first = cfg.pretty_text
    assert cfg.pretty_text == first
    assert len(calls) == 1
    # The same text yapf itself gives.
    assert first == FormatCode(calls[0], style_config=dict(
        based_on_style='pep8', blank_line_before_nested_class_or_def=True,
        split_before_expression_after_opening_paren=True))[0]
    # A changed config is formatted afresh, never served the old text.
    cfg.train_cfg.max_epochs = 15
    changed = cfg.pretty_text
    assert 'max_epochs=15' in changed and 'max_epochs=20' not in changed
    assert len(calls) == 2
    # Errors are not kept: the next call tries again.
    monkeypatch.setattr(memoised, 'format_code',
                        lambda *a, **k: (_ for _ in ()).throw(ValueError()))
    with pytest.raises(ValueError):
        memoised('x = (', style_config={})
    assert not any(key[0] == 'x = (' for key in memoised.results)
