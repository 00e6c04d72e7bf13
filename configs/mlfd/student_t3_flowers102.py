# Stage 3 of the paper's set T3: the Flowers-102 student, a EfficientNet-B0
# like its dataset-specific teacher
# (configs/teachers/t3_efficientnet_b0_flowers102.py), trained afresh on that
# teacher's data and schedule and distilled from configs/mlfd/joint_t3.py.
_base_ = [
    '../_base_/students/mlfd_paper_224.py',
    '../_base_/datasets/flowers102.py',
]
model = dict(
    student='{{fileDirname}}/../teachers/t3_efficientnet_b0_flowers102.py',
    teacher=dict(config='{{fileDirname}}/joint_t3.py'),
    dataset='flowers102',
)
