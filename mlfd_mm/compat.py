"""Runtime fixes that let the pinned OpenMMLab stack run on current torch.

Every fix here is guarded (applied only where the problem exists), idempotent,
and covered by ``tests/test_compat.py``. ``apply_all()`` runs on
``import mlfd_mm`` and must run before anything imports torchvision.

Fixes:

1. ``torchvision_ops``: the PyPI torchvision wheel is built against a CUDA
   torch. On the CPU torch its compiled ops don't load, and
   ``import torchvision`` then dies with ``RuntimeError: operator
   torchvision::nms does not exist`` while registering fake kernels. We define
   the missing operator schemas so torchvision's Python parts import; calling
   a compiled op still raises torchvision's own "Couldn't load custom C++ ops".
2. ``mmaction_drn``: the mmaction2 1.2.0 wheel lacks
   ``mmaction/models/localizers/drn/``; we provide a placeholder whose ``DRN``
   raises a clear error when built.
3. ``checkpoint_loading``: torch >= 2.6 loads with ``weights_only=True``,
   which refuses mmengine's own checkpoints (they pickle the message hub's
   ``HistoryBuffer`` and numpy values), so ``load_from``, ``--resume`` and
   ``load_checkpoint`` fail. We register, for mmengine's local-file scheme,
   :func:`mlfd_mm.checkpoint.load_checkpoint_file`: still
   ``weights_only=True``, plus a scoped allowlist of exactly those types. A
   checkpoint whose pickle names any other global is refused with an error
   naming the file and the global; nothing about ``torch.load`` changes for
   the rest of the process.
4. ``prepare_cpu_distributed``: mmengine's ``init_dist`` calls
   ``torch.cuda.set_device`` unconditionally, so ``--launcher pytorch`` dies
   on a machine without CUDA. The tools call this before building the
   Runner: it initialises the gloo process group itself (the Runner then
   skips ``init_dist``) and makes the DDP wrapper use ``device_ids=None``.
5. ``config_formatting``: mmengine re-formats the whole config with yapf
   every time it reads ``Config.pretty_text``: when it logs and dumps the
   config and in the metadata of **every checkpoint it saves**. For a
   student config, which holds its joint teacher's and teachers' configs,
   that is about 1 s of CPU per save on a 2-core machine, 23.8 s of a 20-epoch
   offline student's 147 (py-spy). We memoise yapf's ``FormatCode`` in
   mmengine's config module by its exact input (the unformatted text and the
   style): the same text in gives the same text out, a changed config is
   formatted afresh, errors are not cached, and nothing else is touched.
"""
import importlib.util
import sys
import types

_APPLIED = set()

# Schemas of the torchvision operators whose fake kernels are registered
# unconditionally at import time (torchvision/_meta_registrations.py).
_TORCHVISION_SCHEMAS = {
    'nms': 'nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor',
    'qnms': 'qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor',
}
_torchvision_lib = None  # keep the Library alive: its definitions die with it


def _has_op(qualname):
    import torch
    try:
        torch._C._dispatch_find_schema_or_throw(qualname, '')
        return True
    except RuntimeError:
        return False


def fix_torchvision_ops():
    """Define torchvision operator schemas when its C++ ops failed to load."""
    global _torchvision_lib
    if 'torchvision_ops' in _APPLIED:
        return False
    if 'torchvision' in sys.modules:
        _APPLIED.add('torchvision_ops')
        return False
    import torch
    # Try torchvision's own loader first: where the compiled ops load, change
    # nothing.
    spec = importlib.util.find_spec('torchvision')
    if spec is None:
        return False
    missing = [n for n in _TORCHVISION_SCHEMAS
               if not _has_op(f'torchvision::{n}')]
    if missing and _torchvision_extension_loads():
        missing = [n for n in _TORCHVISION_SCHEMAS
                   if not _has_op(f'torchvision::{n}')]
    if not missing:
        _APPLIED.add('torchvision_ops')
        return False
    _torchvision_lib = torch.library.Library('torchvision', 'DEF')
    for name in missing:
        _torchvision_lib.define(_TORCHVISION_SCHEMAS[name])
    _APPLIED.add('torchvision_ops')
    return True


def _torchvision_extension_loads():
    """Load torchvision's _C the way torchvision does, without importing it."""
    import os
    import torch
    spec = importlib.util.find_spec('torchvision')
    pkg_dir = os.path.dirname(spec.origin)
    for fname in os.listdir(pkg_dir):
        if fname.startswith('_C') and fname.endswith(('.so', '.pyd')):
            try:
                torch.ops.load_library(os.path.join(pkg_dir, fname))
                return True
            except (OSError, ImportError, RuntimeError):
                return False
    return False


_DRN_MODULE = 'mmaction.models.localizers.drn'


def fix_mmaction_drn():
    """Provide ``mmaction.models.localizers.drn`` when the wheel lacks it."""
    if 'mmaction_drn' in _APPLIED:
        return False
    _APPLIED.add('mmaction_drn')
    if importlib.util.find_spec('mmaction') is None:
        return False
    if _DRN_MODULE in sys.modules:
        return False
    spec = importlib.util.find_spec('mmaction')
    import os
    drn_dir = os.path.join(
        os.path.dirname(spec.origin), 'models', 'localizers', 'drn')
    if os.path.isfile(os.path.join(drn_dir, '__init__.py')):
        return False

    # localizers/__init__.py does ``from .drn.drn import DRN``: provide the
    # package and its submodule.
    package = types.ModuleType(_DRN_MODULE)
    package.__path__ = []
    module = types.ModuleType(_DRN_MODULE + '.drn')

    class DRN:
        """Placeholder: the mmaction2 1.2.0 wheel ships without DRN."""

        def __init__(self, *args, **kwargs):
            raise ImportError(
                'DRN is not available: the installed mmaction2 wheel lacks '
                'mmaction/models/localizers/drn/. Install mmaction2 from '
                'source to use the DRN localizer.')

    DRN.__module__ = module.__name__
    module.DRN = package.DRN = DRN
    package.drn = module
    sys.modules[_DRN_MODULE] = package
    sys.modules[module.__name__] = module
    # Registered so that building ``type='DRN'`` gives the clear error above
    # instead of "not in the registry".
    from mmaction.registry import MODELS
    MODELS.register_module(name='DRN', module=DRN, force=True)
    return True


def _load_local_checkpoint(filename, map_location):
    """mmengine's local-file loader, with the safe unpickling of
    :func:`mlfd_mm.checkpoint.load_checkpoint_file`."""
    from .checkpoint import load_checkpoint_file
    return load_checkpoint_file(
        filename, 'checkpoint', map_location=map_location)


def fix_checkpoint_loading():
    """Let mmengine load its own checkpoints on torch >= 2.6, safely."""
    if 'checkpoint_loading' in _APPLIED:
        return False
    _APPLIED.add('checkpoint_loading')
    import inspect
    import torch
    if not hasattr(torch.serialization, 'safe_globals') or (
            'weights_only' not in inspect.signature(torch.load).parameters):
        return False
    from mmengine.runner.checkpoint import CheckpointLoader
    CheckpointLoader.register_scheme(
        prefixes='', loader=_load_local_checkpoint, force=True)
    return True


class _MemoisedFormatCode:
    """yapf's ``FormatCode`` (a pure function of its arguments) with its
    results kept for the last few distinct inputs."""

    def __init__(self, format_code, size=16):
        self.format_code = format_code
        self.size = size
        self.results = {}

    def __call__(self, unformatted_source, *args, **kwargs):
        key = (unformatted_source, repr(args), repr(sorted(
            (k, repr(v)) for k, v in kwargs.items())))
        if key not in self.results:
            result = self.format_code(unformatted_source, *args, **kwargs)
            if len(self.results) >= self.size:
                self.results.pop(next(iter(self.results)))
            self.results[key] = result
        return self.results[key]


def fix_config_formatting():
    """Format each distinct config text with yapf once per process."""
    if 'config_formatting' in _APPLIED:
        return False
    _APPLIED.add('config_formatting')
    import mmengine.config.config as config_module
    if isinstance(config_module.FormatCode, _MemoisedFormatCode):
        return False
    config_module.FormatCode = _MemoisedFormatCode(config_module.FormatCode)
    return True


def _slurm_env_to_torch_env():
    """Translate SLURM's variables into the ones torch.distributed reads."""
    import os
    import subprocess
    os.environ.setdefault('RANK', os.environ['SLURM_PROCID'])
    os.environ.setdefault('WORLD_SIZE', os.environ['SLURM_NTASKS'])
    os.environ.setdefault('LOCAL_RANK', os.environ['SLURM_LOCALID'])
    if 'MASTER_ADDR' not in os.environ:
        node_list = os.environ['SLURM_NODELIST']
        os.environ['MASTER_ADDR'] = subprocess.getoutput(
            f'scontrol show hostname {node_list} | head -n1')
    os.environ.setdefault('MASTER_PORT', '29500')


def prepare_cpu_distributed(cfg, launcher):
    """Set up multi-process training on CPU, where mmengine cannot.

    Does nothing when ``launcher`` is 'none' or CUDA is available (mmengine's
    own ``init_dist`` works there).

    Args:
        cfg (mmengine.Config): the config the Runner will be built from; its
            ``model_wrapper_cfg`` gets ``device_ids=None``.
        launcher (str): 'none', 'pytorch' or 'slurm'.

    Returns:
        bool: whether the gloo process group was initialised here.
    """
    import os
    import torch
    import torch.distributed as torch_dist
    if launcher == 'none' or torch.cuda.is_available():
        return False
    if launcher == 'slurm':
        _slurm_env_to_torch_env()
    elif launcher != 'pytorch':
        raise ValueError(
            f'--launcher {launcher!r} is not supported on CPU; use '
            "'pytorch' (torchrun) or 'slurm'")
    if not torch_dist.is_initialized():
        torch_dist.init_process_group(
            backend='gloo',
            rank=int(os.environ['RANK']),
            world_size=int(os.environ['WORLD_SIZE']))
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    wrapper.setdefault('broadcast_buffers', False)
    wrapper.setdefault('find_unused_parameters',
                       cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None  # a CPU module takes no device ids
    cfg.model_wrapper_cfg = wrapper
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = \
        'gloo'
    return True


def apply_all():
    """Apply every fix that the installed stack needs. Safe to call twice."""
    return dict(
        torchvision_ops=fix_torchvision_ops(),
        mmaction_drn=fix_mmaction_drn(),
        checkpoint_loading=fix_checkpoint_loading(),
        config_formatting=fix_config_formatting(),
    )
