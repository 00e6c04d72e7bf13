"""Video errors: clips whose frame count does not fit the model's
num_segments, and corrupt or undecodable videos (named, or skipped and
counted when the config asks)."""
import logging
import os
import os.path as osp
from pathlib import Path

import mlfd_mm  # noqa: F401  (compat fixes before torchvision)
import pytest
from conftest import PYTHON, REPO, run_tool
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import DATASETS, DefaultScope
from video_fakes import write_fake_motion_source

from mlfd_mm.config import complete_joint_loaders
from mlfd_mm.checks import check_clip_frames
from mlfd_mm.datasets import CheckedVideoDataset, CorruptVideoError
from mlfd_mm.datasets.offline_video import build_offline_video_dataset

DIRECTION = osp.join(REPO,
                     'configs/teachers/offline_video_tsm_r18_direction.py')
STUDENT = osp.join(REPO, 'configs/mlfd/student_offline_video_direction.py')
JOINT = osp.join(REPO, 'configs/mlfd/joint_offline_video.py')


# The configs name each other by paths relative to the repo root.


@pytest.fixture(scope='module')
def clips(tmp_path_factory):
    """Tiny 'direction' set: 8 classes, 2 train / 1 val / 1 test clips
    each."""
    image_root = str(tmp_path_factory.mktemp('images'))
    write_fake_motion_source(image_root, 'mnist')
    root = str(tmp_path_factory.mktemp('video'))
    return build_offline_video_dataset(
        'direction', root=root, image_root=image_root,
        clips_per_class=dict(train=2, val=1, test=1))


def _rows(folder, split):
    return Path(folder, 'meta', f'{split}.txt').read_text().splitlines()


def _folder_with(tmp_path, clips, broken):
    """A data root with two good test clips and the ``broken`` files
    (name -> bytes), listed after them."""
    (tmp_path / 'meta').mkdir()
    rows = []
    for row in _rows(clips, 'test')[:2]:
        path, label = row.split()
        target = tmp_path / osp.basename(path)
        target.write_bytes(Path(clips, path).read_bytes())
        rows.append(f'{target.name} {label}')
    for name, data in broken.items():
        (tmp_path / name).write_bytes(data)
        rows.append(f'{name} 0')
    (tmp_path / 'meta' / 'test.txt').write_text('\n'.join(rows) + '\n')
    return str(tmp_path)


def _half_clip(clips):
    data = Path(clips, _rows(clips, 'test')[0].split()[0]).read_bytes()
    return data[:len(data) // 2]


def _dataset(data_root, split='test', **overrides):
    cfg = Config.fromfile(DIRECTION)
    dataset_cfg = cfg[f'{split}_dataloader'].dataset
    dataset_cfg.update(data_root=data_root, **overrides)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return DATASETS.build(dataset_cfg)


class _Records(logging.Handler):

    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture
def warnings_logged():
    logger = MMLogger.get_current_instance()
    handler = _Records()
    logger.addHandler(handler)
    yield handler.messages
    logger.removeHandler(handler)


# ---------------------------------------------------------------- corrupt
@pytest.mark.parametrize('name, data', [
    ('truncated.mp4', None),
    ('garbage.mp4', b'not a video at all' * 50),
])
def test_undecodable_video_error_names_the_file(tmp_path, clips, name, data):
    root = _folder_with(tmp_path, clips,
                        {name: _half_clip(clips) if data is None else data})
    dataset = _dataset(root)
    assert isinstance(dataset, CheckedVideoDataset)
    assert dataset.on_corrupt == 'error'
    assert tuple(dataset[1]['inputs'].shape) == (8, 3, 32, 32)
    with pytest.raises(CorruptVideoError) as err:
        dataset[2]
    message = str(err.value)
    assert osp.join(root, name) in message
    assert 'DecordInit' in message and 'sample 2' in message


def test_skip_drops_unreadable_videos_and_counts_them(tmp_path, clips,
                                                      warnings_logged):
    root = _folder_with(tmp_path, clips, {
        'truncated.mp4': _half_clip(clips),
        'garbage.mp4': b'\x00' * 999,
    })
    dataset = _dataset(root, on_corrupt='skip')
    assert len(dataset) == 2
    assert dataset.skipped_videos == [osp.join(root, 'truncated.mp4'),
                                      osp.join(root, 'garbage.mp4')]
    for index in range(2):
        assert tuple(dataset[index]['inputs'].shape) == (8, 3, 32, 32)
    assert any('skipped 2 of 4 videos' in m for m in warnings_logged)
    assert any(osp.join(root, 'garbage.mp4') in m for m in warnings_logged)


def test_skip_in_training_fetches_another_clip(tmp_path, clips,
                                               warnings_logged):
    root = tmp_path / 'train'
    root.mkdir()
    (root / 'meta').mkdir()
    rows = _rows(clips, 'train')[:3]
    for row in rows:
        path = row.split()[0]
        (root / osp.basename(path)).write_bytes(Path(clips, path).read_bytes())
    (root / 'meta' / 'train.txt').write_text(''.join(
        f'{osp.basename(r.split()[0])} {r.split()[1]}\n' for r in rows))
    dataset = _dataset(str(root), split='train', on_corrupt='skip')
    assert len(dataset) == 3
    # Breaks after loading (e.g. a disk that went away): skipped at decoding
    lost = root / osp.basename(rows[0].split()[0])
    os.remove(lost)
    sample = dataset[0]
    assert tuple(sample['inputs'].shape) == (8, 3, 32, 32)
    assert dataset.skipped_videos[0] == str(lost)
    assert any(str(lost) in m and '1 skipped so far' in m
               for m in warnings_logged)


def test_skip_never_drops_a_test_clip_silently(tmp_path, clips):
    root = _folder_with(tmp_path, clips, {})
    dataset = _dataset(root, on_corrupt='skip')
    lost = _rows(root, 'test')[1].split()[0]
    os.remove(osp.join(root, lost))
    with pytest.raises(CorruptVideoError, match='not dropped silently') as e:
        dataset[1]
    assert osp.join(root, lost) in str(e.value)


def test_unknown_on_corrupt_is_refused(tmp_path, clips):
    with pytest.raises(ValueError, match=r"on_corrupt must be one of "
                       r"\('error', 'skip'\), got 'ignore'"):
        _dataset(_folder_with(tmp_path, clips, {}), on_corrupt='ignore')


def test_stock_config_for_export():
    stock = CheckedVideoDataset.stock_config(dict(
        type='CheckedVideoDataset', _scope_='mmaction', ann_file='a.txt',
        on_corrupt='skip', pipeline=[]))
    assert stock == dict(type='VideoDataset', _scope_='mmaction',
                         ann_file='a.txt', pipeline=[])


# ---------------------------------------------------------- frame counts
def _four_frames(pipeline):
    for step in pipeline:
        if step['type'] == 'SampleFrames':
            step['num_clips'] = 4
    return pipeline


def test_clip_frames_must_match_num_segments():
    cfg = Config.fromfile(DIRECTION)
    check_clip_frames(cfg)  # as shipped: 8 frames for 8 segments
    # two test views of 8 frames each are fine
    for step in cfg.test_dataloader.dataset.pipeline:
        if step.type == 'SampleFrames':
            step.num_clips = 16
    check_clip_frames(cfg)
    _four_frames(cfg.train_dataloader.dataset.pipeline)
    with pytest.raises(ValueError) as err:
        check_clip_frames(cfg)
    message = str(err.value)
    assert 'train_dataloader.dataset gives clips of 4 frames' in message
    assert 'SampleFrames clip_len=1 x num_clips=4' in message
    assert 'model.backbone.num_segments = 8' in message


def test_clip_frames_of_a_student_and_of_joint_datasets():
    student = Config.fromfile(STUDENT)
    check_clip_frames(student)
    _four_frames(student.val_dataloader.dataset.pipeline)
    with pytest.raises(ValueError, match=r'val_dataloader.dataset gives '
                       r'clips of 4 frames .* but model.student.backbone.'
                       r'num_segments = 8: .* a multiple of 8 frames'):
        check_clip_frames(student)

    joint = complete_joint_loaders(Config.fromfile(JOINT))
    check_clip_frames(joint)
    motion = joint.train_dataloader.dataset.datasets[1]
    motion.pipeline = _four_frames(
        Config.fromfile(motion.config).train_pipeline)
    with pytest.raises(ValueError) as err:
        check_clip_frames(joint)
    message = str(err.value)
    assert 'train_dataloader.dataset.datasets[1] (' in message
    assert 'configs/teachers/offline_video_tsm_r18_motion.py, train)' in \
        message
    assert 'clips of 4 frames' in message
    assert "model.teachers[0] (direction).backbone.num_segments = 8" in \
        message


@pytest.mark.slow
def test_train_tool_refuses_mismatched_clips(tmp_path):
    config = tmp_path / 'four_frames.py'
    config.write_text(
        f'_base_ = [{DIRECTION!r}]\n'
        f'train_dataloader = dict(dataset=dict(data_root={str(tmp_path)!r},'
        ' pipeline=[dict(type="SampleFrames", clip_len=2, num_clips=2)]))\n'
        'val_cfg = None\nval_dataloader = None\nval_evaluator = None\n')
    proc = run_tool(PYTHON, 'tools/train.py', config, '--work-dir',
                    tmp_path / 'work', check=False, timeout=120)
    assert proc.returncode != 0
    assert 'clips of 4 frames (SampleFrames clip_len=2 x num_clips=2) but ' \
        'model.backbone.num_segments = 8' in proc.stderr
    assert not (tmp_path / 'work' / 'epoch_1.pth').exists()
