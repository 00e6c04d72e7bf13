# Caltech-101 at 224 px, read by mmpretrain's Caltech101. Its class list has
# 102 entries: the 101 object classes plus BACKGROUND_Google (kept, as
# mmpretrain does). There is no official split; mmpretrain's meta files
# (caltech_meta.zip of OpenMMLab) or your own in the same format:
#
#   data/caltech-101/
#   ├── 101_ObjectCategories/
#   │   ├── accordion/image_0001.jpg ...
#   │   └── ...
#   └── meta/
#       ├── train.txt     one "<class folder>/<file> <class index>" line per
#       └── test.txt      image (used for val and test)
dataset_type = 'Caltech101'
data_root = 'data/caltech-101'
data_preprocessor = dict(
    num_classes=102,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True,
)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=128,
    num_workers=8,
    dataset=dict(type=dataset_type, data_root=data_root, split='train',
                 pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
val_dataloader = dict(
    batch_size=128,
    num_workers=8,
    dataset=dict(type=dataset_type, data_root=data_root, split='test',
                 pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
