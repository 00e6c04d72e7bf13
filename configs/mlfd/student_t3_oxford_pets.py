# Stage 3 of the paper's set T3: the Oxford-IIIT Pets student, a ResNet-18 like
# its dataset-specific teacher (configs/teachers/t3_resnet18_oxford_pets.py),
# trained afresh on that teacher's data and schedule and distilled from
# configs/mlfd/joint_t3.py.
_base_ = [
    '../_base_/students/mlfd_paper_224.py',
    '../_base_/datasets/oxford_pets.py',
]
model = dict(
    student='{{fileDirname}}/../teachers/t3_resnet18_oxford_pets.py',
    teacher=dict(config='{{fileDirname}}/joint_t3.py'),
    dataset='oxford_pets',
)
