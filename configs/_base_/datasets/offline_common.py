# Loaders shared by the offline 32x32 datasets; a dataset file inherits this
# and sets data_root, classes and its mean/std. Built by
# `python tools/prepare_offline_data.py` (mmpretrain CustomDataset layout).
dataset_type = 'CustomDataset'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    # no flips: they change the meaning of digits
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='PackInputs'),
]
# One loader worker (a 2-core CPU), kept across epochs; it stacks each
# batch's images into one uint8 tensor (stack_collate,
# mlfd_mm/datasets/collate.py): the training process receives one tensor
# instead of 64 and computes the same (tests/test_collate.py).
train_dataloader = dict(
    batch_size=64,
    num_workers=1,
    persistent_workers=True,
    collate_fn=dict(type='stack_collate'),
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, ann_file='meta/train.txt',
                 data_prefix='', pipeline=train_pipeline),
)
val_dataloader = dict(
    batch_size=256,
    num_workers=1,
    persistent_workers=True,
    collate_fn=dict(type='stack_collate'),
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, ann_file='meta/val.txt',
                 data_prefix='', pipeline=test_pipeline),
)
test_dataloader = dict(
    batch_size=256,
    num_workers=1,
    persistent_workers=True,
    collate_fn=dict(type='stack_collate'),
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, ann_file='meta/test.txt',
                 data_prefix='', pipeline=test_pipeline),
)
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_evaluator = val_evaluator
