# Second architecture set, stage 3: the fashion student (mobilenet_v2, the architecture
# of configs/teachers/arch2_fashion_mobilenet_v2.py, trained afresh) distilled from
# joint_offline_arch2.py with the default recipe of the offline students
# (CE weight 1.0, KD 0.6 at T = 2, feature MSE 0.2), on the teacher's data and
# 15-epoch schedule.
_base_ = [
    '../_base_/models/mlfd_distiller.py',
    '../_base_/datasets/offline_fashion.py',
    '../_base_/schedules/offline_cpu_15e.py',
    '../_base_/default_runtime.py',
]
pipeline_dir = '{{fileDirname}}/../../work_dirs/offline_arch2/seed0'
model = dict(
    student='{{fileDirname}}/../teachers/arch2_fashion_mobilenet_v2.py',
    teacher=dict(config='{{fileDirname}}/joint_offline_arch2.py',
                 checkpoint='auto'),
    dataset='fashion',
    loss_weights=dict(ce=1.0),
    distill='auto')
