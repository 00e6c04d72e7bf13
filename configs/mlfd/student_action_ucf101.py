# Stage 3 of the paper's action-recognition set: the UCF-101 student, a
# TSM-R50 (8 segments) like its dataset-specific teacher
# (configs/teachers/video_tsm_r50_ucf101.py), initialised from the same
# Kinetics-400 checkpoint and distilled from the joint teacher
# (configs/mlfd/joint_action.py) on the teacher's data and schedule.
_base_ = [
    '../_base_/models/mlfd_distiller.py',
    '../_base_/datasets/ucf101.py',
    '../_base_/schedules/video_finetune_sgd.py',
    '../_base_/video_runtime.py',
]
model = dict(
    student='{{fileDirname}}/../teachers/video_tsm_r50_ucf101.py',
    # the teacher config's load_from: a checkpoint the user supplies
    student_init='checkpoints/tsm_r50_kinetics400.pth',
    teacher=dict(config='{{fileDirname}}/joint_action.py',
                 checkpoint='auto'),
    dataset='ucf101',
    # (student backbone stage, joint level): the deepest stage, frame by
    # frame, onto the joint teacher's only level (L1)
    distill=[(3, 'l1')],
)
