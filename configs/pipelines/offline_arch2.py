# A second architecture set on the offline data (README "A second
# architecture set"): MobileNetV2 on fashion, ShuffleNetV2 on digits,
# 15-epoch schedules, default student recipe.
#   python tools/run_pipeline.py configs/pipelines/offline_arch2.py --seeds 0 1 2
name = 'offline_arch2'
teachers = dict(
    fashion='{{fileDirname}}/../teachers/arch2_fashion_mobilenet_v2.py',
    digits='{{fileDirname}}/../teachers/arch2_digits_shufflenet_v2.py',
)
joint_teacher = '{{fileDirname}}/../mlfd/joint_offline_arch2.py'
students = dict(
    fashion='{{fileDirname}}/../mlfd/student_arch2_fashion.py',
    digits='{{fileDirname}}/../mlfd/student_arch2_digits.py',
)
