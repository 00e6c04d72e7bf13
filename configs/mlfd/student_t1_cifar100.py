# Stage 3 of the paper's set T1: the CIFAR-100 student, a ResNet-18 like its
# dataset-specific teacher (configs/teachers/t1_resnet18_cifar100.py), trained
# afresh on that teacher's data and schedule and distilled from
# configs/mlfd/joint_t1.py.
_base_ = [
    '../_base_/students/mlfd_paper_224.py',
    '../_base_/datasets/cifar100.py',
]
model = dict(
    student='{{fileDirname}}/../teachers/t1_resnet18_cifar100.py',
    teacher=dict(config='{{fileDirname}}/joint_t1.py'),
    dataset='cifar100',
)
