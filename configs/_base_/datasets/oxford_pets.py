# Oxford-IIIT Pets at 224 px (37 breeds), read by mmpretrain's OxfordIIITPet
# with the official trainval/test split (test is used for val and test):
#
#   data/Oxford-IIIT_Pets/
#   ├── images/Abyssinian_1.jpg ...
#   └── annotations/
#       ├── trainval.txt   one "<image name, no .jpg> <class 1..37> <species>
#       └── test.txt       <breed id>" line per image
dataset_type = 'OxfordIIITPet'
data_root = 'data/Oxford-IIIT_Pets'
data_preprocessor = dict(
    num_classes=37,
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
    dataset=dict(type=dataset_type, data_root=data_root, split='trainval',
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
