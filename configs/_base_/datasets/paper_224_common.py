# Loaders shared by the paper's 224 px image datasets read by mmpretrain's own
# dataset classes; a dataset file inherits this and sets its type, data_root,
# class count and splits (ImageNet mean/std; files decode as BGR).
data_preprocessor = dict(
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
# Loaders for GPUs: the loader workers stack each batch's images into one
# uint8 tensor (stack_collate, mlfd_mm/datasets/collate.py; the training
# process then receives one tensor, not 128), pinned for the copy to the
# device.
train_dataloader = dict(
    batch_size=128,
    num_workers=8,
    pin_memory=True,
    collate_fn=dict(type='stack_collate'),
    dataset=dict(pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
val_dataloader = dict(
    batch_size=128,
    num_workers=8,
    pin_memory=True,
    collate_fn=dict(type='stack_collate'),
    dataset=dict(pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_evaluator = val_evaluator
