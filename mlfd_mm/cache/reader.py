"""Reading a feature cache: one positioned read per sample from its shard
file, and the dataset wrapper that attaches each sample's cached teacher
features to its data sample."""
import collections
import copy
import os
from typing import List, Optional, Tuple, Union

import numpy as np
import torch
from mmengine.registry import DATASETS

from .manifest import (StaleCacheError, cache_id, dataset_changes,
                       dataset_identity, incomplete_shards, load_manifest,
                       manifest_layout, shard_file)

# Data-sample field holding a sample's features (one flat array) and the
# metainfo key holding the id of the cache they come from.
FEATURES_FIELD = 'teacher_features'
CACHE_ID_KEY = 'feature_cache_id'


def carried_to_device(data_samples: list, device: torch.device
                      ) -> torch.Tensor:
    """The batch's cached rows (each data sample's ``FEATURES_FIELD``, one
    flat array per sample) stacked into one tensor on ``device``. On a GPU
    the stack is pinned and copied with ``non_blocking=True``: a copy from
    pageable memory would make the host wait for the previous step."""
    batch = torch.from_numpy(np.stack(
        [sample.get(FEATURES_FIELD) for sample in data_samples]))
    if device.type == 'cuda':
        return batch.pin_memory().to(device, non_blocking=True)
    return batch.to(device)


def default_max_open() -> int:
    """A quarter of this process's soft limit of open files, 16..4096."""
    import resource
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 4096
    return max(16, min(4096, soft // 4))


class FeatureCacheReader:
    """Read samples' features from the complete shards of one split.

    A sample is one row of its shard file (every teacher level), read with
    one ``os.pread`` into a fresh buffer: no memory map, so the resident
    memory and the cost per sample do not grow with the number of shard
    files. At most ``max_open`` file descriptors stay open (least recently
    used closed first); without a mapping a descriptor costs the process
    next to nothing, so by default it is a quarter of the process's limit
    of open files (``ulimit -n``; the rest is left to the data loader),
    at most 4096: 256 under the common limit of 1024, more than T1's 217
    shard files. Past it, a read that reopens its file costs ~3x. Descriptors belong to the process that opened them:
    a forked or unpickled reader (a data-loader worker, a DDP rank) starts
    with none and opens its own.

    Args:
        root (str): The cache directory.
        split (str): ``'train'``, ``'val'`` or ``'test'``.
        max_open (int, optional): Open descriptors kept. Defaults to
            :func:`default_max_open`.
    """

    def __init__(self, root: str, split: str,
                 max_open: Optional[int] = None):
        manifest = load_manifest(root)
        if manifest is None:
            raise FileNotFoundError(
                f'feature cache {root!r} has no manifest.json: build it with '
                '`python tools/cache_features.py CONFIG`')
        if split not in manifest['splits']:
            raise KeyError(
                f'feature cache {root!r} has no split {split!r} (it has '
                f'{sorted(manifest["splits"])}): run `python '
                f'tools/cache_features.py CONFIG --split {split}`')
        self.root = root
        self.split = split
        self.manifest = manifest
        self.cache_id = cache_id(manifest)
        self.layout = manifest_layout(manifest)
        if int(manifest['bytes_per_sample']) != self.layout.bytes_per_sample:
            raise StaleCacheError(root, [
                f'bytes_per_sample {manifest["bytes_per_sample"]} in the '
                f'manifest, {self.layout.bytes_per_sample} from its shapes'])
        self.dtype = np.dtype(self.layout.dtype).newbyteorder(
            '<' if manifest.get('byteorder', 'little') == 'little' else '>')
        self.shard_size = int(manifest['shard_size'])
        self.datasets = manifest['splits'][split]
        self.max_open = max(1, int(max_open or default_max_open()))
        self._open = collections.OrderedDict()
        self._pid = os.getpid()

    def check_complete(self, name: str):
        """Raise unless every shard of dataset ``name`` is marked complete
        (a partial shard is never read)."""
        if name not in self.datasets:
            raise KeyError(
                f'feature cache {self.root!r}, split {self.split!r}: no '
                f'dataset {name!r} (it has {sorted(self.datasets)})')
        missing = incomplete_shards(self.manifest, self.split, name)
        if missing:
            total = self.datasets[name]['num_shards']
            raise RuntimeError(
                f'feature cache {self.root!r}: dataset {name!r} (split '
                f'{self.split}) is incomplete: shards {missing} of {total} '
                'are not marked complete (an interrupted build?); run `python '
                'tools/cache_features.py CONFIG` again to resume it')

    def _fd(self, name: str, shard: int) -> int:
        if self._pid != os.getpid():
            # Forked: the inherited descriptors share their offsets and
            # lifetime with the parent's; forget them (the parent closes
            # its own) and open this process's.
            self._open = collections.OrderedDict()
            self._pid = os.getpid()
        key = (name, shard)
        fd = self._open.get(key)
        if fd is not None:
            self._open.move_to_end(key)
            return fd
        fd = os.open(shard_file(self.root, self.split, name, shard),
                     os.O_RDONLY | getattr(os, 'O_CLOEXEC', 0))
        self._open[key] = fd
        if len(self._open) > self.max_open:
            os.close(self._open.popitem(last=False)[1])
        return fd

    def close(self):
        """Close this process's descriptors."""
        if self._pid == os.getpid():
            for fd in self._open.values():
                os.close(fd)
        self._open = collections.OrderedDict()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def read(self, name: str, index: int,
             out: Optional[np.ndarray] = None) -> np.ndarray:
        """One sample's features as a flat array (see
        :class:`FeatureLayout`).

        Args:
            name (str): Dataset name.
            index (int): Sample index within that dataset.
            out (np.ndarray, optional): Flat buffer to fill.
        """
        length = self.datasets[name]['length']
        if not 0 <= index < length:
            raise IndexError(f'feature cache: index {index} out of range for '
                             f'dataset {name!r} ({length} samples)')
        shard, row = divmod(index, self.shard_size)
        nbytes = self.layout.bytes_per_sample
        data = os.pread(self._fd(name, shard), nbytes, row * nbytes)
        if len(data) != nbytes:
            raise RuntimeError(
                f'feature cache {self.root!r}: shard {shard} of dataset '
                f'{name!r} (split {self.split}) is truncated: {len(data)} of '
                f'{nbytes} bytes at sample {index}; rebuild it with `python '
                'tools/cache_features.py CONFIG --force`')
        values = np.frombuffer(data, dtype=self.dtype)
        if out is None:
            # bytes are immutable: a writable array of its own
            return values.astype(self.layout.dtype)
        out[:] = values
        return out

    def __getstate__(self):
        # Descriptors are not shipped to worker processes: each opens its
        # own.
        state = self.__dict__.copy()
        state['_open'] = collections.OrderedDict()
        state['_pid'] = None
        return state


@DATASETS.register_module()
class CachedFeatureDataset:
    """A dataset whose samples carry their teachers' cached features.

    Wraps a :class:`MultiDatasetWrapper` (each dataset's samples read from
    the cache under its name) or a single dataset (give ``dataset_name``,
    e.g. a student's own dataset). Each item's data sample gets the field
    ``teacher_features`` (one flat array, see :class:`FeatureLayout`) and
    the metainfo ``feature_cache_id``; a JointTeacher with
    ``feature_cache=dict(root=...)`` then uses them instead of running its
    teachers. The shard files are read in the data-loader workers.

    At :meth:`full_init` the wrapped datasets are compared with the cache
    (length and hash of the sample list): a :class:`StaleCacheError` says
    what changed; an incomplete split (interrupted build) is refused too.

    Args:
        dataset (dict | Dataset): The wrapped dataset, a config or built.
        root (str): The cache directory.
        split (str): The cache split the samples come from. Defaults to
            ``'train'``.
        dataset_name (str, optional): The cache's name for a single wrapped
            dataset. Not used with a :class:`MultiDatasetWrapper` (its names
            are).
        lazy_init (bool): Defer :meth:`full_init`. Defaults to False.
    """

    def __init__(self,
                 dataset: Union[dict, object],
                 root: str,
                 split: str = 'train',
                 dataset_name: Optional[str] = None,
                 lazy_init: bool = False):
        self.dataset = DATASETS.build(copy.deepcopy(dataset)) if isinstance(
            dataset, dict) else dataset
        self.root = root
        self.split = split
        self.dataset_name = dataset_name
        self._multi = hasattr(self.dataset, 'locate') and hasattr(
            self.dataset, 'names')
        if not self._multi and not dataset_name:
            raise ValueError(
                'CachedFeatureDataset: a single wrapped dataset '
                f'({type(self.dataset).__name__}) needs dataset_name=, its '
                'name in the feature cache')
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    @classmethod
    def stock_config(cls, cfg: dict) -> dict:
        """The wrapped dataset's config: what an exported student tests on
        (the cache only feeds a distiller's teacher side)."""
        return cfg['dataset']

    # ------------------------------------------------------------------
    def _named_datasets(self) -> List[Tuple[str, object]]:
        if self._multi:
            return list(zip(self.dataset.names, self.dataset.datasets))
        return [(self.dataset_name, self.dataset)]

    def full_init(self):
        """Initialise the wrapped dataset, open the cache's manifest and
        check that it matches the data."""
        if self._fully_initialized:
            return
        if hasattr(self.dataset, 'full_init'):
            self.dataset.full_init()
        self.reader = FeatureCacheReader(self.root, self.split)
        changes = []
        for name, dataset in self._named_datasets():
            cached = self.reader.datasets.get(name)
            if cached is None:
                changes.append(
                    f'dataset {name!r} (split {self.split}) is not in the '
                    f'cache (it has {sorted(self.reader.datasets)})')
                continue
            changes += dataset_changes(self.split, name, cached,
                                       dataset_identity(dataset))
        if changes:
            raise StaleCacheError(self.root, changes)
        for name, _ in self._named_datasets():
            self.reader.check_complete(name)
        self._fully_initialized = True

    @property
    def cache_id(self) -> str:
        self.full_init()
        return self.reader.cache_id

    @property
    def metainfo(self) -> dict:
        return copy.deepcopy(getattr(self.dataset, 'metainfo', {}))

    def __len__(self) -> int:
        return len(self.dataset)

    def _locate(self, idx: int) -> Tuple[str, int]:
        if self._multi:
            dataset_idx, local = self.dataset.locate(idx)
            return self.dataset.names[dataset_idx], local
        return self.dataset_name, idx if idx >= 0 else idx + len(self)

    def __getitem__(self, idx: int):
        self.full_init()
        item = self.dataset[idx]
        name, local = self._locate(idx)
        features = self.reader.read(name, local)
        sample = item.get('data_samples') if isinstance(item, dict) else None
        if sample is None or not hasattr(sample, 'set_field'):
            raise TypeError(
                f'CachedFeatureDataset: dataset {name!r} returned no data '
                'sample to attach the features to; its pipeline must end '
                'with a packing transform (PackInputs, PackActionInputs)')
        sample.set_field(features, FEATURES_FIELD)
        sample.set_metainfo({CACHE_ID_KEY: self.reader.cache_id})
        return item

    def __getattr__(self, name):
        # Samplers and evaluators ask the wrapped dataset for its own
        # attributes (cumulative_sizes, names, get_data_info, ...).
        if name.startswith('__') or 'dataset' not in self.__dict__:
            raise AttributeError(name)
        return getattr(self.__dict__['dataset'], name)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(root={self.root!r}, '
                f'split={self.split!r}, dataset={self.dataset!r})')
