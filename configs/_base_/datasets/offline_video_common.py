# Loaders shared by the offline video datasets (synthetic motion over real
# frames, built by `python tools/prepare_offline_video.py`); a dataset file
# inherits this and sets data_root. Clips are 16 frames of 64x64 mp4,
# decoded by decord through mmaction2's VideoDataset.
#
# `_scope_='mmaction'` on the datasets and the metric lets them build (with
# their mmaction2 transforms) under any default scope, e.g. inside a
# MultiDatasetWrapper of a joint-teacher config.
#
# CheckedVideoDataset is mmaction2's VideoDataset whose decoding errors name
# the file; `on_corrupt='skip'` on a dataset skips (and counts) unreadable
# videos instead. AccMAPMetric is mmaction2's AccMetric that also computes
# the mAP over classes on these single-label clips (mmaction2 1.2.0's needs
# one-hot labels). Exported students get the stock VideoDataset/AccMetric.
dataset_type = 'CheckedVideoDataset'
num_segments = 8

# TSN-style sampling: 8 segments, one frame from each (random within the
# segment for training, its centre for testing). No flips or rotations:
# they would change the labels (directions, cw/ccw).
train_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=1, frame_interval=1,
         num_clips=num_segments),
    dict(type='DecordDecode'),
    # 32 px keeps a full-width ResNet-18 TSM within CPU minutes.
    dict(type='Resize', scale=(32, 32), keep_ratio=False),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs'),
]
test_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=1, frame_interval=1,
         num_clips=num_segments, test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(32, 32), keep_ratio=False),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs'),
]

# The loader worker stacks each batch's clips into one uint8 tensor
# (stack_collate_list hands mmaction2's ActionDataPreprocessor the list of
# clips it expects).
train_dataloader = dict(
    batch_size=16,
    num_workers=1,
    persistent_workers=True,
    collate_fn=dict(type='stack_collate_list'),
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, _scope_='mmaction',
                 ann_file='meta/train.txt', data_prefix=dict(video=''),
                 pipeline=train_pipeline),
)
val_dataloader = dict(
    batch_size=32,
    num_workers=1,
    persistent_workers=True,
    collate_fn=dict(type='stack_collate_list'),
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, _scope_='mmaction',
                 ann_file='meta/val.txt', data_prefix=dict(video=''),
                 pipeline=test_pipeline, test_mode=True),
)
test_dataloader = dict(
    batch_size=32,
    num_workers=1,
    persistent_workers=True,
    collate_fn=dict(type='stack_collate_list'),
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, _scope_='mmaction',
                 ann_file='meta/test.txt', data_prefix=dict(video=''),
                 pipeline=test_pipeline, test_mode=True),
)
val_evaluator = dict(type='AccMAPMetric', _scope_='mmaction',
                     metric_list=('top_k_accuracy', 'mean_class_accuracy',
                                  'mean_average_precision'))
test_evaluator = val_evaluator
