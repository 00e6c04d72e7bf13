"""Small real video data and clips that the video tests make themselves:
videos in the paper datasets' layouts, the offline motion sources, random
clips and action data samples, and a one-epoch run of a video config."""
import os
import os.path as osp
from pathlib import Path

import cv2
import numpy as np
import torch
from mmaction.structures import ActionDataSample
from mmengine.config import Config

SPLITS = ('train', 'val', 'test')


def write_video(path, num_frames=12, size=(80, 60)):
    os.makedirs(osp.dirname(path), exist_ok=True)
    # The paper's datasets come as .avi; an MPEG-4 part 2 stream decodes the
    # same way through decord.
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), 10,
                             size)
    assert writer.isOpened()
    for t in range(num_frames):
        writer.write(np.full((size[1], size[0], 3), 10 * t, np.uint8))
    writer.release()


def fake_video_dataset(name, classes):
    """Lay out data/<name>/ as mmaction2's build_file_list writes it."""
    for split in ('train', 'val'):
        rows = []
        for label, class_name in enumerate(classes):
            rel = f'{class_name}/v_{class_name}_{split}.avi'
            write_video(osp.join('data', name, 'videos', rel))
            rows.append(f'{rel} {label}\n')
        ann = osp.join('data', name, f'{name}_{split}_split_1_videos.txt')
        Path(ann).write_text(''.join(rows))


def fake_activitynet(classes):
    for split in ('train', 'val'):
        rows = []
        for label, _ in enumerate(classes):
            video = f'v_{split}{label:03d}'
            folder = osp.join('data', 'ActivityNet', 'rawframes', video)
            os.makedirs(folder)
            for t in range(1, 13):
                cv2.imwrite(osp.join(folder, f'img_{t:05d}.jpg'),
                            np.full((60, 80, 3), 10 * t, np.uint8))
            rows.append(f'{video} 12 {label}\n')
        Path('data/ActivityNet', f'anet_{split}_video.txt').write_text(
            ''.join(rows))


def write_fake_motion_source(image_root, source, per_label=2):
    """A bright elongated ellipse on black per image, 10 labels, 3 splits."""
    rng = np.random.default_rng(len(source))
    folder = osp.join(image_root, source)
    os.makedirs(osp.join(folder, 'meta'), exist_ok=True)
    for split in SPLITS:
        os.makedirs(osp.join(folder, 'images', split), exist_ok=True)
        lines = []
        for index in range(10 * per_label):
            label = index % 10
            image = np.zeros((32, 32, 3), np.uint8)
            # elongated, so that its orientation shows rotations
            axes = (int(rng.integers(9, 12)), int(rng.integers(3, 6)))
            cv2.ellipse(image, (16, 16), axes, float(rng.uniform(0, 180)), 0,
                        360, (255, 255, 255), -1)
            rel_path = f'images/{split}/{index:05d}.png'
            cv2.imwrite(osp.join(folder, rel_path), image)
            lines.append(f'{rel_path} {label}\n')
        with open(osp.join(folder, 'meta', f'{split}.txt'), 'w') as f:
            f.writelines(lines)


def random_clips(num, frames=8, size=32, seed=0):
    """``num`` random uint8 clips of (frames, 3, size, size)."""
    generator = torch.Generator().manual_seed(seed)
    return [torch.randint(0, 256, (frames, 3, size, size), dtype=torch.uint8,
                          generator=generator) for _ in range(num)]


def action_samples(datasets_and_labels):
    samples = []
    for name, label in datasets_and_labels:
        sample = ActionDataSample().set_gt_label(label)
        sample.set_metainfo(dict(dataset_name=name))
        samples.append(sample)
    return samples


def tiny_run(cfg, work_dir):
    """``cfg`` made a one-epoch, in-process run into ``work_dir``."""
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].update(num_workers=0, persistent_workers=False,
                        batch_size=16)
    cfg.train_cfg = dict(by_epoch=True, max_epochs=1, val_interval=1)
    cfg.param_scheduler = [dict(type='ConstantLR', factor=1.0)]
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.work_dir = str(work_dir)
    cfg.log_level = 'WARNING'
    return cfg


def joint_model_random_teachers(config, **teacher_updates):
    """The JointTeacher model of a joint ``config`` file, its teachers with
    random weights (``checkpoint=None``) and ``teacher_updates`` applied."""
    model = Config.fromfile(config).model.to_dict()
    for teacher in model['teachers']:
        teacher.update(checkpoint=None, **teacher_updates)
    return model
