"""MultiDatasetWrapper: several datasets with distinct label spaces."""
import bisect
import copy
from typing import List, Optional, Sequence, Tuple, Union

from mmengine.dataset import force_full_init
from mmengine.registry import DATASETS

from ..config import as_dict, load_config_file


def resolve_dataset_config(entry: dict) -> dict:
    """A dataset config, or the dataset of ``entry['config']``'s split."""
    entry = as_dict(entry)
    if 'config' not in entry:
        return entry
    path = entry.pop('config')
    split = entry.pop('split', 'train')
    cfg = load_config_file(path, 'MultiDatasetWrapper dataset')
    loader = cfg.get(f'{split}_dataloader')
    if not loader or 'dataset' not in loader:
        raise KeyError(
            f'MultiDatasetWrapper: {path!r} has no {split}_dataloader.dataset '
            "(split must be 'train', 'val' or 'test')")
    dataset = as_dict(loader['dataset'])
    dataset.setdefault('_scope_', cfg.get('default_scope', 'mmpretrain'))
    dataset.update(entry)
    return dataset


@DATASETS.register_module()
class MultiDatasetWrapper:
    """Concatenate datasets whose label spaces differ.

    mmengine's ``ConcatDataset`` refuses datasets whose ``classes`` differ;
    here each dataset keeps its own classes and every sample keeps its own
    label. After the wrapped dataset's pipeline ran, the sample's data sample
    (mmpretrain ``DataSample``, mmaction2 ``ActionDataSample``, ...) gets
    ``dataset_idx`` and ``dataset_name`` in its metainfo, which the joint
    teacher and :class:`MultiDatasetMetric` read.

    Args:
        datasets (Sequence[dict | Dataset]): The datasets, as configs or
            built. Configs are built with the current default scope; give a
            dataset of another library its scope, e.g.
            ``dict(type='VideoDataset', _scope_='mmaction', ...)``, so that its
            pipeline's transforms are found too. An entry
            ``dict(config='teachers/x.py', split='train', **overrides)``
            takes the dataset of that config's ``<split>_dataloader`` (with
            the config's ``default_scope``), so a joint config reuses each
            teacher's own dataset definition; other keys override the
            dataset's (e.g. ``data_root``).
        names (Sequence[str], optional): One unique name per dataset. Defaults
            to ``dataset0``, ``dataset1``, ...
        lazy_init (bool): Defer :meth:`full_init` (of the wrapper and of the
            datasets, which also need their own ``lazy_init=True``). Defaults
            to False.

    Global indices run through the datasets in order: dataset i holds
    ``[cumulative_sizes[i-1], cumulative_sizes[i])``.
    """

    def __init__(self,
                 datasets: Sequence[Union[dict, object]],
                 names: Optional[Sequence[str]] = None,
                 lazy_init: bool = False):
        if not datasets:
            raise ValueError('MultiDatasetWrapper needs at least one dataset')
        self.datasets = [
            DATASETS.build(resolve_dataset_config(d)) if isinstance(d, dict)
            else d for d in datasets
        ]
        if names is None:
            names = [f'dataset{i}' for i in range(len(self.datasets))]
        names = [str(n) for n in names]
        if len(names) != len(self.datasets):
            raise ValueError(
                f'MultiDatasetWrapper: {len(names)} names {names} for '
                f'{len(self.datasets)} datasets')
        if len(set(names)) != len(names):
            raise ValueError(
                f'MultiDatasetWrapper: dataset names must be unique, got '
                f'{names}')
        self.names: List[str] = names
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        """``dict(dataset_names=[...], classes=[classes of each dataset])``."""
        classes = []
        for dataset in self.datasets:
            meta = getattr(dataset, 'metainfo', None) or {}
            found = meta.get('classes')
            classes.append(list(found) if found is not None else None)
        return dict(dataset_names=list(self.names), classes=classes)

    def full_init(self):
        """Fully initialise every dataset and compute the index ranges."""
        if self._fully_initialized:
            return
        for dataset in self.datasets:
            if hasattr(dataset, 'full_init'):
                dataset.full_init()
        self.cumulative_sizes: List[int] = []
        total = 0
        for dataset in self.datasets:
            total += len(dataset)
            self.cumulative_sizes.append(total)
        self._fully_initialized = True

    @property
    @force_full_init
    def dataset_sizes(self) -> List[int]:
        starts = [0] + self.cumulative_sizes[:-1]
        return [end - start for start, end in zip(starts,
                                                  self.cumulative_sizes)]

    @force_full_init
    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    @force_full_init
    def locate(self, idx: int) -> Tuple[int, int]:
        """Global index -> (dataset index, index within that dataset)."""
        size = self.cumulative_sizes[-1]
        if idx < 0:
            idx += size
        if not 0 <= idx < size:
            raise IndexError(
                f'index {idx} out of range for MultiDatasetWrapper of '
                f'{size} samples')
        dataset_idx = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[dataset_idx - 1] if dataset_idx else 0
        return dataset_idx, idx - start

    def get_dataset_idx(self, idx: int) -> int:
        """The dataset a global index belongs to."""
        return self.locate(idx)[0]

    def get_data_info(self, idx: int) -> dict:
        """Annotation of a global index, with dataset_idx / dataset_name."""
        dataset_idx, local = self.locate(idx)
        info = copy.deepcopy(self.datasets[dataset_idx].get_data_info(local))
        info.update(dataset_idx=dataset_idx,
                    dataset_name=self.names[dataset_idx])
        return info

    def __getitem__(self, idx: int):
        dataset_idx, local = self.locate(idx)
        item = self.datasets[dataset_idx][local]
        self._tag(item, dataset_idx)
        return item

    def _tag(self, item, dataset_idx: int):
        tags = dict(dataset_idx=dataset_idx,
                    dataset_name=self.names[dataset_idx])
        if not isinstance(item, dict):
            raise TypeError(
                f'dataset {self.names[dataset_idx]!r} returned a '
                f'{type(item).__name__}; MultiDatasetWrapper expects the dict '
                'of a packing transform (PackInputs, PackActionInputs)')
        sample = item.get('data_samples')
        if sample is not None and hasattr(sample, 'set_metainfo'):
            sample.set_metainfo(tags)
        else:
            item.update(tags)

    def __repr__(self) -> str:
        sizes = (self.dataset_sizes if self._fully_initialized else
                 ['not loaded'] * len(self.names))
        body = ', '.join(f'{n}: {s}' for n, s in zip(self.names, sizes))
        return f'{type(self).__name__}({body})'
