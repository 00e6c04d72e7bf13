# Stage 3 of the paper's set T1: the ImageNet-Sketch student, a SE-ResNeXt-26-D
# like its dataset-specific teacher
# (configs/teachers/t1_seresnext26d_imagenet_sketch.py), trained afresh on that
# teacher's data and schedule and distilled from configs/mlfd/joint_t1.py.
_base_ = [
    '../_base_/students/mlfd_paper_224.py',
    '../_base_/datasets/imagenet_sketch.py',
]
model = dict(
    student='{{fileDirname}}/../teachers/t1_seresnext26d_imagenet_sketch.py',
    teacher=dict(config='{{fileDirname}}/joint_t1.py'),
    dataset='imagenet_sketch',
)
