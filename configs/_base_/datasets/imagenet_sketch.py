# ImageNet-Sketch (1000 ImageNet classes, ~50 sketches each) at 224 px, read
# by mmpretrain's CustomDataset. The release has no splits; this project
# defines them in three annotation files (a per-class stratified split, e.g.
# 70/10/20 % of each class, drawn once with a fixed seed and kept):
#
#   data/imagenet-sketch/
#   ├── sketch/                       the release, as unpacked
#   │   ├── n01440764/*.JPEG
#   │   └── ...                       (1000 wnid folders)
#   └── meta/
#       ├── train.txt                 one "<wnid>/<file> <class index>" line
#       ├── val.txt                   per image; the class index is the
#       └── test.txt                  position of the wnid in the sorted
#                                     list of the 1000 folder names
dataset_type = 'CustomDataset'
data_root = 'data/imagenet-sketch'
data_preprocessor = dict(
    num_classes=1000,
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
    dataset=dict(type=dataset_type, data_root=data_root, data_prefix='sketch',
                 ann_file='meta/train.txt', pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
val_dataloader = dict(
    batch_size=128,
    num_workers=8,
    dataset=dict(type=dataset_type, data_root=data_root, data_prefix='sketch',
                 ann_file='meta/val.txt', pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_dataloader = dict(
    batch_size=128,
    num_workers=8,
    dataset=dict(type=dataset_type, data_root=data_root, data_prefix='sketch',
                 ann_file='meta/test.txt', pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
test_evaluator = val_evaluator
