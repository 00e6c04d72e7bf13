# The paper's set T1 end to end: ResNet-18 / EfficientNet-B0 / SE-ResNeXt-26-D
# teachers on CIFAR-100 / TinyImageNet / ImageNet-Sketch, the joint teacher,
# one student per dataset.
#   python tools/run_pipeline.py configs/pipelines/t1.py
# Stage budgets as in the paper's supplementary ("Time complexity"): each
# teacher and each student trains 200 epochs (paper_sgd_224.py); the joint
# teacher about 1/5 of a teacher's steps (configs/mlfd/joint_t1.py sets its
# epochs). Data preparation: see configs/_base_/datasets/ and
# tools/dataset_converters/; the datasets are read under data/, or under
# $MLFD_DATA_ROOT where it is set (no config to edit).
name = 't1'
_teacher_dir = '{{fileDirname}}/../teachers/'
_mlfd_dir = '{{fileDirname}}/../mlfd/'
teachers = dict(
    cifar100=_teacher_dir + 't1_resnet18_cifar100.py',
    tiny_imagenet=_teacher_dir + 't1_efficientnet_b0_tiny_imagenet.py',
    imagenet_sketch=_teacher_dir + 't1_seresnext26d_imagenet_sketch.py',
)
joint_teacher = _mlfd_dir + 'joint_t1.py'
students = dict(
    cifar100=_mlfd_dir + 'student_t1_cifar100.py',
    tiny_imagenet=_mlfd_dir + 'student_t1_tiny_imagenet.py',
    imagenet_sketch=_mlfd_dir + 'student_t1_imagenet_sketch.py',
)
