"""What a training run does differently on a GPU: which mixed precision
``--amp`` means, and a batch's copy to the device that does not make the
host wait (tools/train.py calls both)."""
from typing import Optional

import torch
from mmengine.model import is_model_wrapper

# Optimiser wrappers that --amp replaces (plain fp32 ones).
_PLAIN_WRAPPERS = (None, 'OptimWrapper', 'mmengine.OptimWrapper')
_AMP_WRAPPERS = ('AmpOptimWrapper', 'AutocastOptimWrapper')


def amp_optim_wrapper(optim_wrapper: dict,
                      device: Optional[str] = None) -> dict:
    """The ``optim_wrapper`` config of a mixed-precision run.

    bf16 where the device has it (:class:`AutocastOptimWrapper`: autocast to
    bfloat16, no loss scaler, no per-step host synchronisation); on a CUDA
    GPU without bf16, mmengine's ``AmpOptimWrapper`` (float16 with dynamic
    loss scaling), as before.

    Args:
        optim_wrapper (dict): The config's ``optim_wrapper`` (a plain
            ``OptimWrapper``; an AMP one is returned unchanged).
        device (str, optional): ``'cuda'`` or ``'cpu'``; defaults to cuda
            when one is available. On the CPU, --amp is refused unless
            ``device='cpu'`` is asked for explicitly (bf16 autocast there is
            correct but usually slower than fp32).

    Returns:
        dict: A new ``optim_wrapper`` config.

    Raises:
        RuntimeError: No CUDA device and none asked for.
        ValueError: The config's wrapper is of another kind.
    """
    cfg = dict(optim_wrapper)
    kind = cfg.get('type')
    if kind in _AMP_WRAPPERS:
        return cfg
    if kind not in _PLAIN_WRAPPERS:
        raise ValueError(
            f'--amp: optim_wrapper.type={kind!r} is not a plain OptimWrapper'
            ' that --amp could turn into a mixed-precision one; set '
            "optim_wrapper.type='AutocastOptimWrapper' (bf16) or "
            "'AmpOptimWrapper' (fp16) in the config instead")
    if device is None:
        if not torch.cuda.is_available():
            raise RuntimeError(
                '--amp needs a CUDA device (no GPU is visible here); drop '
                '--amp to train on the CPU in fp32')
        device = 'cuda'
    if device == 'cuda' and not torch.cuda.is_bf16_supported():
        cfg.update(type='AmpOptimWrapper', dtype='float16')
        cfg.setdefault('loss_scale', 'dynamic')
        return cfg
    cfg.update(type='AutocastOptimWrapper', dtype='bfloat16')
    return cfg


def labels_to_device_first(module, args) -> None:
    """A forward pre-hook of a data preprocessor: copy the batch's labels
    (each data sample's CPU ``gt_label``) to the preprocessor's device as
    one tensor without waiting, before the preprocessor runs. mmpretrain's
    ``ClsDataPreprocessor`` copies them with a blocking ``.to()``, which on a
    GPU makes the host wait for the previous step; with the labels already
    there its copy does nothing. Does nothing on the CPU, or when any
    label is not a CPU tensor."""
    device = module.device
    data = args[0] if args else None
    samples = data.get('data_samples') if isinstance(data, dict) else None
    if device.type == 'cpu' or not samples:
        return
    labels = [getattr(sample, 'gt_label', None) for sample in samples]
    if not all(isinstance(label, torch.Tensor) and label.device.type == 'cpu'
               for label in labels):
        return
    sizes = [label.numel() for label in labels]
    flat = torch.cat([label.reshape(-1) for label in labels])
    if device.type == 'cuda':
        flat = flat.pin_memory()
    flat = flat.to(device, non_blocking=True)
    for sample, label in zip(samples, flat.split(sizes)):
        sample.set_gt_label(label)


def copy_batches_without_waiting(runner) -> bool:
    """Let the model's data preprocessor copy each batch to a CUDA device
    with ``non_blocking=True``, and its labels ahead of it in one
    non-blocking copy (:func:`labels_to_device_first`), so that the host
    does not wait for the device to finish the previous step before it
    sends the next batch (with the loader's ``pin_memory=True`` the copy is
    asynchronous). Nothing changes on the CPU.

    Returns:
        bool: whether it was switched on.
    """
    model = runner.model.module if is_model_wrapper(runner.model) else \
        runner.model
    preprocessor = getattr(model, 'data_preprocessor', None)
    param = next(model.parameters(), None)
    if preprocessor is None or param is None or param.device.type != 'cuda':
        return False
    if not hasattr(preprocessor, '_non_blocking'):
        return False
    preprocessor._non_blocking = True
    preprocessor.register_forward_pre_hook(labels_to_device_first)
    return True


def channels_last_on_gpu(runner) -> bool:
    """Make a model on a CUDA device NHWC (its 4-D weights; cuDNN then runs
    its convolutions, and the maps after them, in that layout): what
    ``--channels-last`` does for a stock model (a stage-1 teacher). The
    project's distillers and joint teachers do it themselves on CUDA
    (``channels_last='auto'``). With DDP the model is already wrapped here:
    PyTorch may warn that gradient strides differ from its buckets' (a
    copy per step, not an error).

    Returns:
        bool: whether the model was converted (False on the CPU).
    """
    from ..models.device_format import to_channels_last
    model = runner.model.module if is_model_wrapper(runner.model) else \
        runner.model
    param = next(model.parameters(), None)
    if param is None or param.device.type != 'cuda':
        return False
    to_channels_last(model)
    return True


def pin_loaders_on_gpu(cfg) -> list:
    """On a machine whose training runs on CUDA, every dataloader that does
    not say otherwise pins its batches (``pin_memory=True``), so that their
    copy to the device is asynchronous; ``--no-pin-memory`` or the config's
    own ``pin_memory`` win. Nothing changes where no GPU is visible.

    Returns:
        list[str]: the loaders switched on.
    """
    if not torch.cuda.is_available():
        return []
    switched = []
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(key)
        if loader and 'pin_memory' not in loader:
            loader['pin_memory'] = True
            switched.append(key)
    return switched


def defer_log_reads_on_gpu(cfg) -> bool:
    """On a machine whose training runs on CUDA, replace mmengine's
    ``RuntimeInfoHook`` (which reads every logged loss back from the device
    each iteration) by :class:`DeferredRuntimeInfoHook` (reads them together
    when the logger needs them), unless the config names its own
    ``default_hooks.runtime_info``. Nothing changes where no GPU is
    visible.

    Returns:
        bool: whether it was replaced.
    """
    if not torch.cuda.is_available():
        return False
    hooks = cfg.get('default_hooks') or {}
    if hooks.get('runtime_info') is not None:
        return False
    cfg.default_hooks = dict(hooks, runtime_info=dict(
        type='DeferredRuntimeInfoHook'))
    return True
