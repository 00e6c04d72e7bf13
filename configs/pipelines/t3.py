# The paper's set T3 end to end: ResNet-18 / EfficientNet-B0 / SE-ResNeXt-26-D
# / ResNet-18 teachers on Caltech-101 / Flowers-102 / CUB-200-2011 / Oxford-
# IIIT Pets, the joint teacher, one student per dataset.
#   python tools/run_pipeline.py configs/pipelines/t3.py
# Stage budgets as in the paper's supplementary ("Time complexity"): each
# teacher and each student trains 200 epochs (paper_sgd_224.py); the joint
# teacher about 1/5 of a teacher's steps (configs/mlfd/joint_t3.py sets its
# epochs). Data preparation: see configs/_base_/datasets/ and
# tools/dataset_converters/; the datasets are read under data/, or under
# $MLFD_DATA_ROOT where it is set (no config to edit).
name = 't3'
_teacher_dir = '{{fileDirname}}/../teachers/'
_mlfd_dir = '{{fileDirname}}/../mlfd/'
teachers = dict(
    caltech101=_teacher_dir + 't3_resnet18_caltech101.py',
    flowers102=_teacher_dir + 't3_efficientnet_b0_flowers102.py',
    cub=_teacher_dir + 't3_seresnext26d_cub.py',
    oxford_pets=_teacher_dir + 't3_resnet18_oxford_pets.py',
)
joint_teacher = _mlfd_dir + 'joint_t3.py'
students = dict(
    caltech101=_mlfd_dir + 'student_t3_caltech101.py',
    flowers102=_mlfd_dir + 'student_t3_flowers102.py',
    cub=_mlfd_dir + 'student_t3_cub.py',
    oxford_pets=_mlfd_dir + 'student_t3_oxford_pets.py',
)
