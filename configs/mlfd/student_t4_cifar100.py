# Stage 3 of the paper's set T4: the CIFAR-100 student, a ResNet-50 like its
# dataset-specific teacher (configs/teachers/t4_resnet50_cifar100.py), trained
# afresh on that teacher's data and schedule and distilled from
# configs/mlfd/joint_t4.py.
_base_ = [
    '../_base_/students/mlfd_paper_224.py',
    '../_base_/datasets/cifar100.py',
]
model = dict(
    student='{{fileDirname}}/../teachers/t4_resnet50_cifar100.py',
    teacher=dict(config='{{fileDirname}}/joint_t4.py'),
    dataset='cifar100',
)
