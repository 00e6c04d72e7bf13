# Stage 3 of the paper's set T3: the CUB-200-2011 student, a SE-ResNeXt-26-D
# like its dataset-specific teacher (configs/teachers/t3_seresnext26d_cub.py),
# trained afresh on that teacher's data and schedule and distilled from
# configs/mlfd/joint_t3.py.
_base_ = [
    '../_base_/students/mlfd_paper_224.py',
    '../_base_/datasets/cub.py',
]
model = dict(
    student='{{fileDirname}}/../teachers/t3_seresnext26d_cub.py',
    teacher=dict(config='{{fileDirname}}/joint_t3.py'),
    dataset='cub',
)
