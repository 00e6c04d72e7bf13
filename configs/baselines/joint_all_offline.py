# Baseline "jointly trained on all datasets at once" on the offline set: one
# narrow ResNet-18 (the architecture of configs/_base_/models/
# offline_resnet18.py) shared by mnist, fashion and animals, trained from
# scratch on mixed batches, one head per dataset. Stage-1 schedule
# (offline_cpu.py): like the teachers, it learns its backbone.
_base_ = [
    '../_base_/models/joint_teacher.py',
    '../_base_/schedules/offline_cpu.py',
    '../_base_/default_runtime.py'
]
# The loaders' datasets (completed by mlfd_mm.config.complete_joint_loaders)
joint_datasets = dict(
    mnist='{{fileDirname}}/../teachers/offline_mnist_resnet18.py',
    fashion='{{fileDirname}}/../teachers/offline_fashion_tinynet.py',
    animals='{{fileDirname}}/../teachers/offline_animals_seresnext.py',
)
model = dict(
    _delete_=True,
    type='SharedBackboneClassifier',
    backbone=dict(type='ResNet_CIFAR', depth=18, stem_channels=16,
                  base_channels=16, out_indices=(3, ), _scope_='mmpretrain'),
    neck=dict(type='GlobalAveragePooling', _scope_='mmpretrain'),
    head=dict(type='MultiDatasetClsHead', in_channels=128),
    dataset_names=list(joint_datasets),
    num_classes=[10, 10, 10],
    # One mean/std for all three: the mixture's (uniform mixing) statistics,
    # from the datasets' own training-pool mean/std.
    data_preprocessor=dict(
        type='ClsDataPreprocessor', _scope_='mmpretrain',
        mean=[58.62, 58.62, 58.62], std=[88.91, 88.91, 88.91], to_rgb=False),
)
