# Stage 3 of the paper's set T4: the TinyImageNet student, a EfficientNet-B1
# like its dataset-specific teacher
# (configs/teachers/t4_efficientnet_b1_tiny_imagenet.py), trained afresh on
# that teacher's data and schedule and distilled from configs/mlfd/joint_t4.py.
_base_ = [
    '../_base_/students/mlfd_paper_224.py',
    '../_base_/datasets/tiny_imagenet.py',
]
model = dict(
    student='{{fileDirname}}/../teachers/t4_efficientnet_b1_tiny_imagenet.py',
    teacher=dict(config='{{fileDirname}}/joint_t4.py'),
    dataset='tiny_imagenet',
)
