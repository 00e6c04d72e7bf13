# Loaders of the paper's trimmed-video datasets read from video files by
# mmaction2's VideoDataset (decord), 8 segments at 224 px (mmaction2's
# recipe for TSN/TSM). A dataset file inherits this and sets the paths.
# val/test: one view (the centre frame of each segment, centre crop).
# VideoDataset whose decoding errors name the file (see
# offline_video_common.py).
dataset_type = 'CheckedVideoDataset'
train_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=8),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='MultiScaleCrop', input_size=224,
         scales=(1, 0.875, 0.75, 0.66), random_crop=False,
         max_wh_scale_gap=1, num_fixed_crops=13),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs'),
]
test_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=8,
         test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs'),
]
# The loader workers stack each batch's clips into one uint8 tensor
# (stack_collate_list hands mmaction2's ActionDataPreprocessor the list of
# clips it expects), pinned for the copy to the GPU.
train_dataloader = dict(
    batch_size=8,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    collate_fn=dict(type='stack_collate_list'),
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, _scope_='mmaction',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    collate_fn=dict(type='stack_collate_list'),
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, _scope_='mmaction',
                 pipeline=test_pipeline, test_mode=True))
test_dataloader = val_dataloader
# AccMetric plus the mAP over classes that the paper reports (mmaction2
# 1.2.0's AccMetric computes it only from one-hot labels).
val_evaluator = dict(type='AccMAPMetric', _scope_='mmaction',
                     metric_list=('top_k_accuracy', 'mean_class_accuracy',
                                  'mean_average_precision'))
test_evaluator = val_evaluator
