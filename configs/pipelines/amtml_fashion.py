# AMTML-KD against its baselines on one label space (offline fashion), all
# with the same three stage-1 teachers and a TinyNet-E student:
#   the student trained alone       = stage-1 teacher `tinynet` itself,
#   equal-weights multi-teacher KD  = students/vanilla (no hints, no RKD),
#   AMTML-KD                        = students/amtml,
#   MLFD from a same-dataset joint  = joint + students/mlfd.
#
# Each student stage gets the stage-1 checkpoints of the teachers it names
# (AMTML-KD) or the joint teacher's (MLFD); results.md has one row per
# method of `table`, with the gain over `baseline`. More baselines on the
# same runs: configs/pipelines/amtml_fashion_extra.py.
#   python tools/run_pipeline.py configs/pipelines/amtml_fashion.py --seeds 0 1 2
name = 'amtml_fashion'
# The TinyNet-E teacher is the offline pipeline's fashion model (same
# config): its runs in work_dirs/offline are reused.
stages_of = '{{fileDirname}}/offline.py'
dataset = 'fashion'
teachers = dict(
    resnet18='{{fileDirname}}/../teachers/offline_fashion_resnet18.py',
    tinynet='{{fileDirname}}/../teachers/offline_fashion_tinynet.py',
    seresnext='{{fileDirname}}/../teachers/offline_fashion_seresnext.py',
)
joint_teacher = '{{fileDirname}}/../amtml/joint_fashion_same_dataset.py'
students = dict(
    vanilla='{{fileDirname}}/../amtml/mtkd_fashion_tinynet_vanilla.py',
    amtml='{{fileDirname}}/../amtml/amtml_fashion_tinynet.py',
    mlfd='{{fileDirname}}/../amtml/mlfd_fashion_tinynet.py',
)
baseline = 'teachers/tinynet'
table = [
    ('TinyNet-E alone (stage 1)', 'teachers/tinynet'),
    ('ResNet-18 teacher', 'teachers/resnet18'),
    ('SE-ResNeXt teacher', 'teachers/seresnext'),
    ('MLFD joint teacher (3 teachers)', 'joint'),
    ('multi-teacher KD, equal weights', 'students/vanilla'),
    ('AMTML-KD', 'students/amtml'),
    ('MLFD student', 'students/mlfd'),
]
