# CIFAR-100 at 224 px, as in the paper: the 32x32 images are upsampled.
# Read by mmpretrain's CIFAR100 from the official python pickles:
#
#   data/cifar100/
#   └── cifar-100-python/
#       ├── train       # 50,000 images
#       ├── test        # 10,000 images (used for val and test)
#       └── meta
#
# download=False: fetching is never done behind the user's back; mmpretrain
# checks the files' md5 sums against the official release.
dataset_type = 'CIFAR100'
# The folder that holds the datasets: data/ (relative to the working
# directory; tools/run_pipeline.py runs its stages in the repository
# root) unless the environment variable MLFD_DATA_ROOT names another.
data_root = '{{$MLFD_DATA_ROOT:data}}/cifar100'
data_preprocessor = dict(
    num_classes=100,
    # ImageNet statistics, like every 224 px teacher of this project.
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    # CIFAR arrays are already RGB.
    to_rgb=False,
)

# The usual CIFAR crop (pad 4 at 32 px) scaled by 7 to the 224 px grid.
train_pipeline = [
    dict(type='Resize', scale=(224, 224), interpolation='bicubic'),
    dict(type='RandomCrop', crop_size=224, padding=28,
         padding_mode='reflect'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='Resize', scale=(224, 224), interpolation='bicubic'),
    dict(type='PackInputs'),
]

# Loaders for GPUs (see paper_224_common.py): batches stacked in the
# loader workers, pinned.
train_dataloader = dict(
    batch_size=128,
    num_workers=8,
    pin_memory=True,
    collate_fn=dict(type='stack_collate'),
    dataset=dict(type=dataset_type, data_root=data_root, split='train',
                 download=False, pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
val_dataloader = dict(
    batch_size=128,
    num_workers=8,
    pin_memory=True,
    collate_fn=dict(type='stack_collate'),
    dataset=dict(type=dataset_type, data_root=data_root, split='test',
                 download=False, pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
