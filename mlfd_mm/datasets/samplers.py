"""MultiDatasetSampler: mix datasets by a ratio, deterministic, DDP-aware."""
import math
from typing import Iterator, List, Optional, Sequence, Union

import torch
from mmengine.dist import get_dist_info, sync_random_seed
from mmengine.registry import DATA_SAMPLERS
from torch.utils.data import Sampler


@DATA_SAMPLERS.register_module()
class MultiDatasetSampler(Sampler):
    """Draw each epoch's indices across datasets by a mixing ratio.

    Each epoch, dataset d contributes ``quota_d = ratio_d * total`` indices
    (largest-remainder rounding). A dataset whose quota exceeds its size is
    repeated (every sample before any repeats, as consecutive permutations);
    a larger one contributes a random subset. The epoch's list is shuffled
    (``shuffle=True``) or evenly interleaved (``shuffle=False``), padded to
    a multiple of the world size, and rank r takes positions
    ``r, r + world_size, ...``, so ranks get disjoint shares.

    Args:
        dataset (MultiDatasetWrapper): A dataset with ``cumulative_sizes``
            (MultiDatasetWrapper, or mmengine's ConcatDataset).
        ratio (str | Sequence[float]): ``'uniform'`` (each dataset
            contributes equally), ``'size'`` (proportional to size, i.e. an
            ordinary pass over the data) or one non-negative weight per
            dataset. Defaults to ``'uniform'``.
        shuffle (bool): Shuffle the epoch's list. Defaults to True.
        seed (int, optional): Random seed, shared by all ranks. Defaults to a
            seed synchronised across ranks.
        num_samples (int, optional): Indices per epoch over all ranks.
            Defaults to ``len(dataset)``.
        rank (int, optional): This process's rank. Defaults to
            ``get_dist_info()``.
        world_size (int, optional): Number of processes. Defaults to
            ``get_dist_info()``.
    """

    def __init__(self,
                 dataset,
                 ratio: Union[str, Sequence[float]] = 'uniform',
                 shuffle: bool = True,
                 seed: Optional[int] = None,
                 num_samples: Optional[int] = None,
                 rank: Optional[int] = None,
                 world_size: Optional[int] = None):
        dist_rank, dist_world = get_dist_info()
        self.rank = dist_rank if rank is None else int(rank)
        self.world_size = dist_world if world_size is None else int(
            world_size)
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f'MultiDatasetSampler: rank {self.rank} outside '
                             f'world_size {self.world_size}')
        if not hasattr(dataset, 'cumulative_sizes'):
            if hasattr(dataset, 'full_init'):
                dataset.full_init()
        if not hasattr(dataset, 'cumulative_sizes'):
            raise TypeError(
                'MultiDatasetSampler needs a dataset made of several datasets '
                f'(MultiDatasetWrapper), got {type(dataset).__name__}')
        self.dataset = dataset
        ends = list(dataset.cumulative_sizes)
        self.starts = [0] + ends[:-1]
        self.sizes = [end - start for start, end in zip(self.starts, ends)]
        names = getattr(dataset, 'names', None) or [
            f'dataset{i}' for i in range(len(self.sizes))]
        self.weights = self._weights(ratio, names)

        self.shuffle = shuffle
        self.seed = sync_random_seed() if seed is None else int(seed)
        self.epoch = 0
        epoch_size = len(dataset) if num_samples is None else int(num_samples)
        if epoch_size < 1:
            raise ValueError(
                f'MultiDatasetSampler: num_samples must be >= 1, got '
                f'{epoch_size}')
        self.num_samples = math.ceil(epoch_size / self.world_size)
        self.total_size = self.num_samples * self.world_size
        self.quotas = self._quotas(self.total_size)

    def _weights(self, ratio, names) -> List[float]:
        if ratio == 'uniform':
            weights = [1.0] * len(self.sizes)
        elif ratio == 'size':
            weights = [float(s) for s in self.sizes]
        elif isinstance(ratio, str):
            raise ValueError(
                f"MultiDatasetSampler: ratio must be 'uniform', 'size' or a "
                f'list of weights, got {ratio!r}')
        else:
            weights = [float(w) for w in ratio]
            if len(weights) != len(self.sizes):
                raise ValueError(
                    f'MultiDatasetSampler: {len(weights)} ratios {weights} '
                    f'for {len(self.sizes)} datasets {names}')
            if any(w < 0 for w in weights) or sum(weights) <= 0:
                raise ValueError(
                    'MultiDatasetSampler: ratios must be non-negative with a '
                    f'positive sum, got {weights}')
        empty = [n for n, s, w in zip(names, self.sizes, weights)
                 if s == 0 and w > 0]
        if empty:
            raise ValueError(
                f'MultiDatasetSampler: datasets {empty} are empty but have a '
                'positive ratio')
        total = sum(weights)
        return [w / total for w in weights]

    def _quotas(self, total: int) -> List[int]:
        """Largest-remainder rounding of ``weights * total``."""
        raw = [w * total for w in self.weights]
        quotas = [math.floor(r) for r in raw]
        order = sorted(range(len(raw)), key=lambda i: (quotas[i] - raw[i], i))
        for i in order[:total - sum(quotas)]:
            quotas[i] += 1
        return quotas

    def _epoch_indices(self) -> List[int]:
        generator = torch.Generator()
        generator.manual_seed(self.seed + self.epoch)
        parts = []
        for start, size, quota in zip(self.starts, self.sizes, self.quotas):
            if quota == 0:
                parts.append(torch.empty(0, dtype=torch.long))
                continue
            if self.shuffle:
                rounds = math.ceil(quota / size)
                local = torch.cat([
                    torch.randperm(size, generator=generator)
                    for _ in range(rounds)
                ])[:quota]
            else:
                local = torch.arange(quota) % size
            parts.append(local + start)
        indices = torch.cat(parts)
        if self.shuffle:
            order = torch.randperm(len(indices), generator=generator)
            indices = indices[order]
        else:
            # Interleave evenly: item j of a dataset with quota q sits at
            # (j + 0.5) / q of the epoch.
            keys = torch.cat([(torch.arange(q) + 0.5) / q if q else
                              torch.empty(0) for q in self.quotas])
            indices = indices[torch.sort(keys, stable=True).indices]
        return indices.tolist()

    def __iter__(self) -> Iterator[int]:
        indices = self._epoch_indices()
        return iter(indices[self.rank:self.total_size:self.world_size])

    def __len__(self) -> int:
        """Indices of this rank per epoch."""
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch, which changes the draw (``seed + epoch``)."""
        self.epoch = epoch


def sampler_plan(sizes: Sequence[int],
                 ratio: Union[str, Sequence[float]] = 'uniform',
                 batch_size: int = 64,
                 num_samples: Optional[int] = None) -> List[dict]:
    """What :class:`MultiDatasetSampler` does with datasets of ``sizes``
    per epoch (shuffled, one process; a pure function, no data needed).

    Args:
        sizes (Sequence[int]): Samples of each dataset.
        ratio: As for :class:`MultiDatasetSampler`.
        batch_size (int): Samples per batch.
        num_samples (int, optional): Indices per epoch. Defaults to
            ``sum(sizes)``.

    Returns:
        list[dict]: Per dataset: ``share`` of the epoch's samples,
        ``quota`` (samples drawn per epoch), ``passes`` (quota / size: above
        1 the dataset is repeated, below 1 a random part of it is seen) and
        ``batches_without`` (expected share of batches holding none of its
        samples: the epoch is one random permutation, so a batch of B has
        none with probability C(N - q, B) / C(N, B)).
    """
    total = int(num_samples or sum(sizes))
    if ratio == 'uniform':
        weights = [1.0] * len(sizes)
    elif ratio == 'size':
        weights = [float(s) for s in sizes]
    else:
        weights = [float(w) for w in ratio]
    weights = [w / sum(weights) for w in weights]
    raw = [w * total for w in weights]
    quotas = [math.floor(r) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: (quotas[i] - raw[i], i))
    for i in order[:total - sum(quotas)]:
        quotas[i] += 1
    plan = []
    for size, weight, quota in zip(sizes, weights, quotas):
        none = 1.0
        for k in range(min(batch_size, total)):
            none *= max(total - quota - k, 0) / (total - k)
        plan.append(dict(size=int(size), share=weight, quota=quota,
                         passes=quota / size, batches_without=none))
    return plan
