# AMTML-KD where its premise holds (issue #15): a quarter-width ResNet-18
# student, clearly smaller and weaker than each of the three fashion
# teachers (ResNet-18, TinyNet-E, SE-ResNeXt), against its baselines:
#   the student trained alone        = stage-1 run `student`,
#   single-teacher KD                = students/kd_resnet18 (the best
#     teacher in every seed, 81.37 +- 0.10), students/kd_seresnext,
#   equal-weight multi-teacher KD    = students/equal,
#   AMTML-KD, released defaults      = students/amtml,
#   AMTML-KD without the latent L2   = students/amtml_no_l2,
#   MLFD from a same-dataset joint   = joint + students/mlfd,
#   and equal-weight KD / AMTML-KD with CE weight 1.0 (students/*_ce1).
#   python tools/run_pipeline.py configs/pipelines/amtml_fashion_w4.py --seeds 0 1 2
name = 'amtml_fashion_w4'
dataset = 'fashion'
teachers = dict(
    student='{{fileDirname}}/../teachers/offline_fashion_resnet18_w4.py',
    # 40 epochs: on the offline 20 it underfitted (README, issue #15)
    resnet18='{{fileDirname}}/../teachers/offline_fashion_resnet18_40e.py',
    tinynet='{{fileDirname}}/../teachers/offline_fashion_tinynet.py',
    seresnext='{{fileDirname}}/../teachers/offline_fashion_seresnext.py',
)
joint_teacher = '{{fileDirname}}/../amtml/joint_fashion_same_dataset.py'
students = dict(
    equal='{{fileDirname}}/../amtml/mtkd_fashion_w4_equal.py',
    amtml='{{fileDirname}}/../amtml/amtml_fashion_w4.py',
    amtml_no_l2='{{fileDirname}}/../amtml/amtml_fashion_w4_no_l2.py',
    kd_resnet18='{{fileDirname}}/../amtml/kd_fashion_w4_resnet18.py',
    kd_seresnext='{{fileDirname}}/../amtml/kd_fashion_w4_seresnext.py',
    mlfd='{{fileDirname}}/../amtml/mlfd_fashion_w4.py',
    # the same two with CE weight 1.0 instead of the released 0.3
    equal_ce1='{{fileDirname}}/../amtml/mtkd_fashion_w4_equal_ce1.py',
    amtml_ce1='{{fileDirname}}/../amtml/amtml_fashion_w4_ce1.py',
    # hints and RKD with equal teacher weights: the adaptive weights' share
    amtml_equal='{{fileDirname}}/../amtml/amtml_fashion_w4_equal.py',
)
baseline = 'teachers/student'
table = [
    ('ResNet-18 w/4 student alone (stage 1)', 'teachers/student'),
    ('ResNet-18 teacher (40 epochs)', 'teachers/resnet18'),
    ('TinyNet-E teacher', 'teachers/tinynet'),
    ('SE-ResNeXt teacher', 'teachers/seresnext'),
    ('MLFD joint teacher (3 teachers)', 'joint'),
    ('KD from the ResNet-18 teacher (the best)', 'students/kd_resnet18'),
    ('KD from the SE-ResNeXt teacher', 'students/kd_seresnext'),
    ('multi-teacher KD, equal weights', 'students/equal'),
    ('AMTML-KD, released defaults', 'students/amtml'),
    ('AMTML-KD without latent L2', 'students/amtml_no_l2'),
    ('MLFD student', 'students/mlfd'),
    ('multi-teacher KD, equal weights, CE 1.0', 'students/equal_ce1'),
    ('AMTML-KD, released defaults but CE 1.0', 'students/amtml_ce1'),
    ('AMTML-KD with equal weights (hints, RKD)', 'students/amtml_equal'),
]
