# Stage 3 on the offline video set: the "objmotion" student, a TSN with a
# half-width ResNet-18 like its dataset-specific teacher
# (configs/teachers/offline_video_tsn_r18_objmotion.py), trained afresh and
# distilled from the offline video joint teacher, on the teacher's data and
# schedule. tools/run_pipeline.py fills in the joint teacher of the run.
_base_ = [
    '../_base_/models/mlfd_distiller.py',
    '../_base_/datasets/offline_video_objmotion.py',
    '../_base_/schedules/offline_video_cpu.py',
    '../_base_/video_runtime.py',
]
# checkpoint='auto': the joint teacher of offline_video's seed-0 run
pipeline_dir = '{{fileDirname}}/../../work_dirs/offline_video/seed0'
model = dict(
    student='{{fileDirname}}/../teachers/offline_video_tsn_r18_objmotion.py',
    teacher=dict(config='{{fileDirname}}/joint_offline_video.py',
                 checkpoint='auto'),
    dataset='objmotion',
    # As the offline image students: the authors' 0.2 CE weight underfits
    # in a short schedule (see README).
    loss_weights=dict(ce=1.0),
    # (student backbone stage, joint level): the deepest stage, frame by
    # frame, onto the joint teacher's only level (L1)
    distill=[(3, 'l1')],
)
# the rate of its teacher's config
optim_wrapper = dict(optimizer=dict(lr=0.05))
