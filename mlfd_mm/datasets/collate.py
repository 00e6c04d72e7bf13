"""stack_collate: mmengine's pseudo_collate, with the images of a batch
stacked into one tensor inside the loader worker.

With ``pseudo_collate`` a loader worker hands the training process one
tensor per image (each its own shared-memory segment and file descriptor),
and the data preprocessor stacks them there. ``stack_collate`` stacks them
in the worker, so one tensor crosses the process boundary and the training
process does not pay for the stacking::

    train_dataloader = dict(collate_fn=dict(type='stack_collate'), ...)

The result is what ``pseudo_collate`` gives, except that ``inputs`` is one
(N, ...) tensor of the images' dtype (uint8 for decoded images) instead of a
list of N tensors. Data samples stay a list, as do all other fields.
mmpretrain's ``ClsDataPreprocessor`` (and mmengine's ``ImgDataPreprocessor``)
take either form and compute the same values from both.

mmaction2's ``ActionDataPreprocessor`` accepts only a list: use
``collate_fn=dict(type='stack_collate_list')`` (``stack_collate`` with
``inputs_as='list'``), which still sends one stacked tensor from the worker
but hands the preprocessor a list of per-clip views of it. It has a name of
its own because mmengine merges config dicts: a derived config that sets
``collate_fn=dict(type='pseudo_collate')`` over an inherited
``dict(type='stack_collate', inputs_as='list')`` would keep ``inputs_as``.

Images of different shapes (or dtypes) in one batch cannot be stacked:
``mixed_shapes='list'`` (the default) returns them as ``pseudo_collate``
does, a list that the data preprocessor pads and stacks, and warns once;
``mixed_shapes='error'`` raises, naming the shapes and the samples.
"""
from typing import Sequence

import torch
from mmengine.dataset import pseudo_collate
from mmengine.logging import print_log
from mmengine.registry import FUNCTIONS

INPUTS_AS = ('tensor', 'list')
MIXED_SHAPES = ('list', 'error')
_warned = set()


def _unstack(stacked: torch.Tensor) -> 'StackedInputs':
    return StackedInputs(stacked.unbind(0))


class StackedInputs(list):
    """A list of same-shaped tensors that crosses a process boundary as one
    stacked tensor (a loader worker pickles it as one; the training process
    gets a list of views of that tensor)."""

    def __copy__(self):  # torch's pin_memory copies the list first
        return StackedInputs(self)

    def __reduce__(self):
        if _same_shapes(self):
            return _unstack, (torch.stack(list(self)), )
        return list, (list(self), )


def _same_shapes(tensors: Sequence) -> bool:
    if not tensors or not all(isinstance(t, torch.Tensor) for t in tensors):
        return False
    first = tensors[0]
    return all(t.shape == first.shape and t.dtype == first.dtype
               and t.device == first.device for t in tensors)


def _describe(samples, inputs) -> str:
    """Shapes of a mixed batch, with the dataset and file of a sample of
    each shape."""
    seen = {}
    for i, tensor in enumerate(inputs):
        key = (tuple(tensor.shape), str(tensor.dtype))
        if key in seen:
            continue
        sample = samples[i] if samples and i < len(samples) else None
        meta = sample.metainfo if hasattr(sample, 'metainfo') else {}
        where = ', '.join(
            f'{k}={meta[k]!r}' for k in ('dataset_name', 'img_path',
                                         'filename') if k in meta)
        seen[key] = f'{key[0]} {key[1]} (sample {i}' + (
            f', {where})' if where else ')')
    return '; '.join(seen.values())


@FUNCTIONS.register_module()
def stack_collate(data_batch: Sequence,
                  inputs_as: str = 'tensor',
                  mixed_shapes: str = 'list'):
    """Collate a batch as ``pseudo_collate`` does, with ``inputs`` stacked.

    Args:
        data_batch (Sequence): The samples, each a dict with ``inputs``
            (a tensor) and ``data_samples``, as packed by ``PackInputs`` /
            ``PackActionInputs``.
        inputs_as (str): ``'tensor'``: ``inputs`` is one (N, ...) tensor.
            ``'list'``: a list of N tensors that a loader worker sends as
            one stacked tensor (for mmaction2's ActionDataPreprocessor).
            Defaults to ``'tensor'``.
        mixed_shapes (str): When the images differ in shape or dtype:
            ``'list'`` returns them as a list, as ``pseudo_collate`` does
            (warning once per pair of shapes); ``'error'`` raises a
            ValueError naming the shapes and samples. Defaults to
            ``'list'``.

    Returns:
        dict: ``inputs`` (see ``inputs_as``), ``data_samples`` (a list) and
        any other field of the samples, as ``pseudo_collate`` returns them.
    """
    if inputs_as not in INPUTS_AS:
        raise ValueError(f'stack_collate: inputs_as must be one of '
                         f'{INPUTS_AS}, got {inputs_as!r}')
    if mixed_shapes not in MIXED_SHAPES:
        raise ValueError(f'stack_collate: mixed_shapes must be one of '
                         f'{MIXED_SHAPES}, got {mixed_shapes!r}')
    data = pseudo_collate(data_batch)
    if not isinstance(data, dict) or not isinstance(data.get('inputs'),
                                                    list):
        raise TypeError(
            'stack_collate: expected samples that are dicts with an '
            "'inputs' tensor (packed by PackInputs / PackActionInputs), got "
            f'{type(data_batch[0]).__name__ if data_batch else "no samples"}'
            "; use collate_fn=dict(type='pseudo_collate') for other data")
    inputs = data['inputs']
    if not all(isinstance(t, torch.Tensor) for t in inputs):
        raise TypeError(
            "stack_collate: every sample's 'inputs' must be a tensor, got "
            f'{sorted({type(t).__name__ for t in inputs})}')
    if not _same_shapes(inputs):
        what = _describe(data.get('data_samples'), inputs)
        if mixed_shapes == 'error':
            raise ValueError(
                f'stack_collate: the images of a batch differ in shape or '
                f'dtype and cannot be stacked: {what}. Resize them to one '
                "shape in the pipeline, or set mixed_shapes='list' (the data "
                'preprocessor pads them)')
        key = tuple(sorted({(tuple(t.shape), str(t.dtype)) for t in inputs}))
        if key not in _warned:
            _warned.add(key)
            print_log(
                f'stack_collate: images of different shapes in one batch '
                f'({what}); they go to the data preprocessor as a list, '
                'which pads them', logger='current', level=30)
        return data
    if inputs_as == 'tensor':
        data['inputs'] = torch.stack(inputs)
    else:
        data['inputs'] = StackedInputs(inputs)
    return data


@FUNCTIONS.register_module()
def stack_collate_list(data_batch: Sequence, mixed_shapes: str = 'list'):
    """:func:`stack_collate` with ``inputs_as='list'`` (for mmaction2's
    ActionDataPreprocessor), under a name that a config selects by ``type``
    alone."""
    return stack_collate(data_batch, inputs_as='list',
                         mixed_shapes=mixed_shapes)


def _stock_collate(cfg: dict) -> dict:
    """What an exported (stock) config names instead of ours: mmengine's
    ``pseudo_collate`` gives the same batches, stacked by the data
    preprocessor instead of the loader worker (mlfd_mm.apis.export)."""
    return dict(type='pseudo_collate')


stack_collate.stock_config = _stock_collate
stack_collate_list.stock_config = _stock_collate
