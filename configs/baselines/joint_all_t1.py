# Baseline "jointly trained on all datasets at once" on the paper's set T1:
# one ResNet-18 shared by CIFAR-100, TinyImageNet and ImageNet-Sketch,
# trained from scratch at 224 px on mixed batches, one head per dataset,
# with the stage-1 teachers' from-scratch schedule.
_base_ = [
    '../_base_/models/joint_teacher.py',
    '../_base_/schedules/paper_sgd_224.py',
    '../_base_/default_runtime.py'
]
# The loaders' datasets (completed by mlfd_mm.config.complete_joint_loaders)
_teacher_dir = '{{fileDirname}}/../teachers/'
joint_datasets = dict(
    cifar100=_teacher_dir + 't1_resnet18_cifar100.py',
    tiny_imagenet=_teacher_dir + 't1_efficientnet_b0_tiny_imagenet.py',
    imagenet_sketch=_teacher_dir + 't1_seresnext26d_imagenet_sketch.py',
)
model = dict(
    _delete_=True,
    type='SharedBackboneClassifier',
    backbone=dict(type='ResNet', depth=18, num_stages=4, out_indices=(3, ),
                  style='pytorch', _scope_='mmpretrain'),
    neck=dict(type='GlobalAveragePooling', _scope_='mmpretrain'),
    head=dict(type='MultiDatasetClsHead', in_channels=512),
    dataset_names=list(joint_datasets),
    num_classes=[100, 200, 1000],
    # The teachers' ImageNet statistics. to_rgb: the file datasets load BGR;
    # CIFAR-100's arrays are already RGB and so reach the network swapped,
    # consistently, which a network trained from scratch absorbs.
    data_preprocessor=dict(
        type='ClsDataPreprocessor', _scope_='mmpretrain',
        mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
        to_rgb=True),
)
train_dataloader = dict(batch_size=128, num_workers=8)
val_dataloader = dict(batch_size=128, num_workers=8)
test_dataloader = dict(batch_size=128, num_workers=8)
