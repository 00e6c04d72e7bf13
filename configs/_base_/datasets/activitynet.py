# ActivityNet v1.3 (200 classes) as trimmed clips of extracted RGB frames,
# read by mmaction2's RawframeDataset, as in mmaction2's TSN ActivityNet
# recipe. Layout (mmaction2's tools/data/activitynet scripts write it):
#
#   data/ActivityNet/
#   ├── rawframes/v_<id>/img_00001.jpg ...
#   ├── anet_train_video.txt   # "v_<id> <num_frames> <label>" per line
#   └── anet_val_video.txt     # validation set, used for val and test
#
# The test labels of ActivityNet are not public: val is the test set.
# 8 segments; train: multi-scale crops + flips at 224 px; val/test: one view
# (the centre frame of each segment, centre crop).
dataset_type = 'RawframeDataset'
data_root = 'data/ActivityNet/rawframes'
ann_file_train = 'data/ActivityNet/anet_train_video.txt'
ann_file_val = 'data/ActivityNet/anet_val_video.txt'
num_classes = 200

train_pipeline = [
    dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=8),
    dict(type='RawFrameDecode'),
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
    dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=8,
         test_mode=True),
    dict(type='RawFrameDecode'),
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
                 ann_file=ann_file_train, data_prefix=dict(img=data_root),
                 filename_tmpl='img_{:05}.jpg', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    collate_fn=dict(type='stack_collate_list'),
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, _scope_='mmaction',
                 ann_file=ann_file_val, data_prefix=dict(img=data_root),
                 filename_tmpl='img_{:05}.jpg', pipeline=test_pipeline,
                 test_mode=True))
test_dataloader = val_dataloader
# AccMetric plus the mAP over classes that the paper reports (mmaction2
# 1.2.0's AccMetric computes it only from one-hot labels).
val_evaluator = dict(type='AccMAPMetric', _scope_='mmaction',
                     metric_list=('top_k_accuracy', 'mean_class_accuracy',
                                  'mean_average_precision'))
test_evaluator = val_evaluator
