"""The offline video datasets (synthetic motion over real frames).

Built here from tiny fake source images in the layout of
``tools/prepare_offline_data.py`` (a few clips per class), then read back
with decord and with mmaction2's VideoDataset and the configs' pipeline.
"""
import collections
import json
import os
import os.path as osp
import time
from pathlib import Path

import mlfd_mm  # noqa: F401  (compat fixes before torchvision is imported)

import cv2
import decord
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import DATASETS, DefaultScope
from video_fakes import SPLITS, write_fake_motion_source

from mlfd_mm.datasets.offline_video import (CANVAS_SIZE, NUM_FRAMES,
                                            OFFLINE_VIDEO_DATASETS,
                                            build_offline_video_dataset)

REPO = Path(__file__).resolve().parents[1]
# Few clips: the whole module builds ~100 clips.
TINY = dict(train=2, val=1, test=1)


@pytest.fixture(scope='module')
def image_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('offline'))
    for source in {s['source'] for s in OFFLINE_VIDEO_DATASETS.values()}:
        write_fake_motion_source(root, source)
    return root


@pytest.fixture(scope='module')
def video_root(tmp_path_factory, image_root):
    root = str(tmp_path_factory.mktemp('offline_video'))
    for name in OFFLINE_VIDEO_DATASETS:
        build_offline_video_dataset(name, root=root, image_root=image_root,
                                    clips_per_class=TINY)
    return root


def _annotations(folder, split):
    with open(osp.join(folder, 'meta', f'{split}.txt')) as f:
        return [(path, int(label))
                for path, label in (line.split() for line in f)]


def _decode_all(path):
    reader = decord.VideoReader(path)
    return reader.get_batch(list(range(len(reader)))).asnumpy()


def _object_mask(frame):
    """The bright object over the noisy background."""
    gray = cv2.GaussianBlur(frame.astype(np.float32).mean(axis=2), (3, 3), 0)
    background = np.median(gray)
    return gray > (background + gray.max()) / 2


def _object_centroid_and_area(frame):
    """Centroid (x, y) and area of the object."""
    ys, xs = np.nonzero(_object_mask(frame))
    return np.array([xs.mean(), ys.mean()]), len(xs)


def _object_orientation(frame):
    """Angle of the object's long axis, degrees counter-clockwise on screen
    (image y points down), in [0, 180)."""
    moments = cv2.moments(_object_mask(frame).astype(np.uint8), True)
    angle = 0.5 * np.degrees(
        np.arctan2(2 * moments['mu11'], moments['mu20'] - moments['mu02']))
    return -angle % 180


@pytest.mark.parametrize('name', sorted(OFFLINE_VIDEO_DATASETS))
def test_clips_are_decodable_mp4_with_balanced_labels(video_root, name):
    folder = osp.join(video_root, name)
    num_classes = len(OFFLINE_VIDEO_DATASETS[name]['classes'])
    with open(osp.join(folder, 'meta', 'info.json')) as f:
        info = json.load(f)
    assert info['classes'] == list(OFFLINE_VIDEO_DATASETS[name]['classes'])
    for split in SPLITS:
        entries = _annotations(folder, split)
        assert len(entries) == TINY[split] * num_classes
        assert info['num_clips'][split] == len(entries)
        counts = collections.Counter(label for _, label in entries)
        assert sorted(counts) == list(range(num_classes))
        assert set(counts.values()) == {TINY[split]}
        for path, _ in entries:
            assert path.startswith(f'videos/{split}/') and path.endswith(
                '.mp4')
            with open(osp.join(folder, path), 'rb') as f:
                # an ISO base media file: 'ftyp' box right at the start
                assert f.read(8)[4:] == b'ftyp'
            reader = decord.VideoReader(osp.join(folder, path))
            assert len(reader) == NUM_FRAMES
            assert reader[0].shape == (CANVAS_SIZE, CANVAS_SIZE, 3)


@pytest.mark.parametrize('name', sorted(OFFLINE_VIDEO_DATASETS))
def test_video_splits_come_from_the_same_image_splits(video_root, name):
    folder = osp.join(video_root, name)
    for split in SPLITS:
        with open(osp.join(folder, 'meta', f'{split}_sources.txt')) as f:
            rows = [line.split() for line in f]
        assert [r[0] for r in rows] == [
            p for p, _ in _annotations(folder, split)]
        assert all(r[1].startswith(f'images/{split}/') for r in rows)


def test_direction_clips_move_the_way_their_label_says(video_root):
    folder = osp.join(video_root, 'direction')
    classes = OFFLINE_VIDEO_DATASETS['direction']['classes']
    for split in SPLITS:
        for path, label in _annotations(folder, split):
            frames = _decode_all(osp.join(folder, path))
            centres = np.array(
                [_object_centroid_and_area(f)[0] for f in frames])
            # least-squares velocity over all frames (the path jitters)
            steps = np.arange(len(frames))
            vx, vy = (np.polyfit(steps, centres[:, i], 1)[0] for i in (0, 1))
            # 45 degrees per class, counter-clockwise from east; y points
            # down in images.
            angle = np.degrees(np.arctan2(-vy, vx)) % 360
            error = (angle - 45 * label + 180) % 360 - 180
            assert abs(error) < 22.5, (path, classes[label], angle)
            travel = np.hypot(vx, vy) * (len(frames) - 1)
            assert travel > 6, (path, 'hardly moves', travel)


def test_zoom_clips_grow_or_shrink(video_root):
    folder = osp.join(video_root, 'motion')
    classes = OFFLINE_VIDEO_DATASETS['motion']['classes']
    seen = set()
    for split in SPLITS:
        for path, label in _annotations(folder, split):
            if classes[label] not in ('zoom_in', 'zoom_out'):
                continue
            frames = _decode_all(osp.join(folder, path))
            _, first = _object_centroid_and_area(frames[0])
            _, last = _object_centroid_and_area(frames[-1])
            ratio = last / first
            if classes[label] == 'zoom_in':
                assert ratio > 1.3, (path, ratio)
            else:
                assert ratio < 1 / 1.3, (path, ratio)
            seen.add(classes[label])
    assert seen == {'zoom_in', 'zoom_out'}


def test_rotate_clips_turn_the_way_their_label_says(video_root):
    folder = osp.join(video_root, 'motion')
    classes = OFFLINE_VIDEO_DATASETS['motion']['classes']
    seen = set()
    for split in SPLITS:
        for path, label in _annotations(folder, split):
            if classes[label] not in ('rotate_cw', 'rotate_ccw'):
                continue
            frames = _decode_all(osp.join(folder, path))
            # the long axis turns < 90 degrees a frame: unwrap mod 180
            angles = np.unwrap(
                np.radians([_object_orientation(f) for f in frames]) * 2) / 2
            turned = np.degrees(angles[-1] - angles[0])
            if classes[label] == 'rotate_ccw':
                assert turned > 60, (path, turned)
            else:
                assert turned < -60, (path, turned)
            seen.add(classes[label])
    assert seen == {'rotate_cw', 'rotate_ccw'}


def test_same_seed_same_dataset_other_seed_other(tmp_path, image_root,
                                                 video_root):
    again = build_offline_video_dataset(
        'objmotion', root=str(tmp_path / 'a'), image_root=image_root,
        clips_per_class=TINY)
    reference = osp.join(video_root, 'objmotion')
    for split in SPLITS:
        for meta in (f'{split}.txt', f'{split}_sources.txt'):
            assert Path(again, 'meta', meta).read_text() == Path(
                reference, 'meta', meta).read_text()
    path = _annotations(reference, 'train')[0][0]
    assert np.array_equal(
        _decode_all(osp.join(again, path)),
        _decode_all(osp.join(reference, path)))

    other = build_offline_video_dataset(
        'objmotion', root=str(tmp_path / 'b'), image_root=image_root,
        seed=1, clips_per_class=TINY)
    assert Path(other, 'meta', 'train.txt').read_text() != Path(
        reference, 'meta', 'train.txt').read_text()


def test_build_is_idempotent_and_force_rebuilds(tmp_path, image_root):
    kwargs = dict(root=str(tmp_path), image_root=image_root,
                  clips_per_class=dict(train=1, val=1, test=1))
    folder = build_offline_video_dataset('motion', **kwargs)
    clip = osp.join(folder, 'videos', 'train', '00000.mp4')
    first_mtime = os.stat(clip).st_mtime_ns

    start = time.time()
    assert build_offline_video_dataset('motion', **kwargs) == folder
    assert time.time() - start < 1.0
    assert os.stat(clip).st_mtime_ns == first_mtime

    build_offline_video_dataset('motion', force=True, **kwargs)
    assert os.stat(clip).st_mtime_ns != first_mtime
    # nothing left over from the temporary build folders
    assert sorted(os.listdir(tmp_path)) == ['motion']

    # other parameters: rebuilt with them
    kwargs['clips_per_class'] = dict(train=2, val=1, test=1)
    build_offline_video_dataset('motion', **kwargs)
    assert len(_annotations(folder, 'train')) == 2 * 6


def test_unknown_name_lists_valid_names(tmp_path, image_root):
    with pytest.raises(KeyError) as err:
        build_offline_video_dataset('nosuchset', root=str(tmp_path),
                                    image_root=image_root)
    message = str(err.value)
    assert 'nosuchset' in message
    for name in OFFLINE_VIDEO_DATASETS:
        assert name in message


def test_missing_image_source_says_how_to_build_it(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        build_offline_video_dataset('direction', root=str(tmp_path / 'v'),
                                    image_root=str(tmp_path / 'none'))
    message = str(err.value)
    assert 'tools/prepare_offline_data.py' in message
    assert osp.join(str(tmp_path / 'none'), 'mnist') in message
    assert not osp.exists(tmp_path / 'v' / 'direction')


def _dataset_from_config(name, data_root, split):
    cfg = Config.fromfile(
        str(REPO / 'configs' / '_base_' / 'datasets' /
            f'offline_video_{name}.py'))
    dataset_cfg = cfg[f'{split}_dataloader'].dataset
    dataset_cfg.data_root = data_root
    # The configs' datasets carry _scope_='mmaction': they build under the
    # image scope too, as inside a joint teacher's wrapper.
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return DATASETS.build(dataset_cfg), cfg


@pytest.mark.parametrize('split', ['train', 'test'])
@pytest.mark.parametrize('name', sorted(OFFLINE_VIDEO_DATASETS))
def test_video_dataset_with_the_config_pipeline(video_root, name, split):
    dataset, cfg = _dataset_from_config(name, osp.join(video_root, name),
                                        split)
    entries = _annotations(osp.join(video_root, name), split)
    assert len(dataset) == len(entries)
    assert cfg.num_classes == len(OFFLINE_VIDEO_DATASETS[name]['classes'])
    for index in (0, len(dataset) - 1):
        sample = dataset[index]
        # (num_segments, C, H, W): one frame from each of 8 segments,
        # resized to 32 px.
        assert tuple(sample['inputs'].shape) == (8, 3, 32, 32)
        assert sample['data_samples'].gt_label.item() == entries[index][1]
    # Decoding: decord sees all frames; one is taken from each segment.
    results = dataset.get_data_info(0)
    for transform in dataset.pipeline.transforms[:3]:  # Init/Sample/Decode
        results = transform(results)
    assert results['total_frames'] == NUM_FRAMES
    assert len(results['imgs']) == 8
    assert results['original_shape'] == (CANVAS_SIZE, CANVAS_SIZE)
    # each frame index falls in its own segment of 16 / 8 = 2 frames
    assert list(results['frame_inds'] // 2) == list(range(8))


def test_truncated_video_error_names_the_file(tmp_path, video_root):
    # mmaction2 1.2.0's DecordInit hands decord a BytesIO, so decord's own
    # error ("Error reading N bytes...") does not name the file; the
    # configs' CheckedVideoDataset does (more in test_video_errors.py).
    from mlfd_mm.datasets import CorruptVideoError
    source = osp.join(video_root, 'direction')
    path, label = _annotations(source, 'test')[0]
    data = Path(source, path).read_bytes()
    (tmp_path / 'meta').mkdir()
    (tmp_path / 'broken.mp4').write_bytes(data[:len(data) // 2])
    (tmp_path / 'meta' / 'test.txt').write_text(f'broken.mp4 {label}\n')
    dataset, _ = _dataset_from_config('direction', str(tmp_path), 'test')
    with pytest.raises(CorruptVideoError) as err:
        dataset[0]
    assert str(tmp_path / 'broken.mp4') in str(err.value)
