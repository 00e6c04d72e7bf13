"""CheckedVideoDataset: mmaction2's VideoDataset that names a video it
cannot decode, or skips it when asked."""
import copy
import logging
from typing import Any, List, Optional

from mmaction.datasets import VideoDataset
from mmengine.logging import print_log
from mmengine.registry import DATASETS

ON_CORRUPT = ('error', 'skip')


class CorruptVideoError(RuntimeError):
    """A video file that its pipeline's reader cannot open or decode."""


def _is_decoding_step(transform) -> bool:
    # DecordInit/DecordDecode, PyAVInit/PyAVDecode, OpenCVInit/OpenCVDecode
    # and their kin: the steps that read the file.
    return type(transform).__name__.endswith(('Init', 'Decode'))


@DATASETS.register_module()
class CheckedVideoDataset(VideoDataset):
    """``VideoDataset`` whose decoding errors name the video file.

    mmaction2 1.2.0's ``DecordInit`` hands decord the file's bytes, so a
    truncated or corrupt video fails with decord's own message ("Error
    reading N bytes ...") and no file name. This dataset runs the same
    pipeline but catches failures of the decoding steps (the transforms
    whose names end in ``Init`` or ``Decode``: ``DecordInit``,
    ``DecordDecode``, ``PyAVInit``, ...) and either raises
    :class:`CorruptVideoError` naming the file, the sample and the step, or
    skips the video. Failures of any other transform propagate unchanged.

    Args:
        on_corrupt (str): ``'error'`` (default): the first clip that cannot
            be decoded raises. ``'skip'``: when the dataset loads, every
            video is opened with the pipeline's ``*Init`` steps, and those
            that fail are dropped from the dataset, each named in a warning
            and counted (``skipped N of M videos``) in the log; a training
            clip whose decoding still fails later is skipped too (a warning,
            and mmengine fetches another sample), while in test mode it
            raises, since an evaluation must not lose samples silently.
        *args, **kwargs: Those of mmaction2's ``VideoDataset``.

    Attributes:
        skipped_videos (list[str]): The files skipped so far by this process
            (data-loader workers keep their own).
    """

    def __init__(self, *args, on_corrupt: str = 'error', **kwargs):
        if on_corrupt not in ON_CORRUPT:
            raise ValueError(
                f'CheckedVideoDataset: on_corrupt must be one of '
                f'{ON_CORRUPT}, got {on_corrupt!r}')
        self.on_corrupt = on_corrupt
        self.skipped_videos: List[str] = []
        super().__init__(*args, **kwargs)

    # ------------------------------------------------------------------
    # loading: drop unreadable videos when skipping
    # ------------------------------------------------------------------
    def filter_data(self) -> List[dict]:
        data_list = super().filter_data()
        if self.on_corrupt != 'skip':
            return data_list
        opening = self._opening_steps()
        if not opening:
            return data_list
        kept, dropped = [], []
        for info in data_list:
            failure = self._first_failure(opening, info)
            if failure is None:
                kept.append(info)
            else:
                dropped.append(info['filename'])
                print_log(
                    f'CheckedVideoDataset: skipped video {info["filename"]}: '
                    f'{failure}', logger='current', level=logging.WARNING)
        if dropped:
            self.skipped_videos.extend(dropped)
            print_log(
                f'CheckedVideoDataset ({self.ann_file}): skipped '
                f'{len(dropped)} of {len(data_list)} videos that cannot be '
                'opened', logger='current', level=logging.WARNING)
        return kept

    def _opening_steps(self) -> list:
        """The pipeline's transforms up to its last ``*Init`` step."""
        transforms = list(self.pipeline.transforms)
        last = max((i for i, t in enumerate(transforms)
                    if type(t).__name__.endswith('Init')), default=None)
        return [] if last is None else transforms[:last + 1]

    def _first_failure(self, steps: list, info: dict) -> Optional[str]:
        results = copy.deepcopy(info)
        results.update(modality=self.modality, start_index=self.start_index)
        for transform in steps:
            try:
                results = transform(results)
            except Exception as err:  # noqa: BLE001  (any reader error)
                if not _is_decoding_step(transform):
                    raise
                return f'{type(transform).__name__}: {err}'
        return None

    # ------------------------------------------------------------------
    # getting a sample
    # ------------------------------------------------------------------
    def prepare_data(self, idx: int) -> Any:
        """The pipeline's output for sample ``idx``, as ``BaseDataset``'s,
        with decoding failures named (or skipped, see ``on_corrupt``)."""
        results = self.get_data_info(idx)
        filename = results.get('filename')
        for transform in self.pipeline.transforms:
            try:
                results = transform(results)
            except Exception as err:  # noqa: BLE001  (any reader error)
                if not _is_decoding_step(transform):
                    raise
                return self._decoding_failed(idx, filename, transform, err)
            if results is None:
                return None
        return results

    def _decoding_failed(self, idx: int, filename: str, transform, err):
        message = (f'cannot decode video {filename} (sample {idx} of '
                   f'{self.ann_file}): {type(transform).__name__} failed: '
                   f'{type(err).__name__}: {err}')
        if self.on_corrupt == 'error':
            raise CorruptVideoError(message) from err
        if self.test_mode:
            raise CorruptVideoError(
                message + " (on_corrupt='skip' drops the videos that cannot "
                'be opened when the dataset loads; a test clip that fails '
                'later is not dropped silently)') from err
        self.skipped_videos.append(filename)
        print_log(
            f'CheckedVideoDataset: skipped a clip, {message} '
            f'({len(self.skipped_videos)} skipped so far)',
            logger='current', level=logging.WARNING)
        return None  # BaseDataset.__getitem__ fetches another sample

    @classmethod
    def stock_config(cls, cfg: dict) -> dict:
        """The stock mmaction2 dataset config (``VideoDataset``, without
        ``on_corrupt``) for an exported model that loads without mlfd_mm."""
        stock = {k: v for k, v in cfg.items()
                 if k not in ('type', 'on_corrupt')}
        stock['_scope_'] = 'mmaction'
        return dict(type='VideoDataset', **stock)
