# Second architecture set, stage 2: the MobileNetV2 (fashion) and
# ShuffleNetV2 (digits) teachers, frozen, fused at their three deepest
# levels; otherwise joint_offline.py (schedule, fusion, heads).
_base_ = [
    '../_base_/models/joint_teacher.py',
    '../_base_/schedules/offline_joint_cpu.py',
    '../_base_/default_runtime.py'
]
pipeline_dir = '{{fileDirname}}/../../work_dirs/offline_arch2/seed0'
_teacher_dir = '{{fileDirname}}/../teachers/'
model = dict(teachers=[
    dict(name='fashion', checkpoint='auto',
         config=_teacher_dir + 'arch2_fashion_mobilenet_v2.py'),
    dict(name='digits', checkpoint='auto',
         config=_teacher_dir + 'arch2_digits_shufflenet_v2.py'),
])
