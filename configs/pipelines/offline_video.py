# MLFD on the offline video set (synthetic motion over real frames, built by
# `python tools/prepare_offline_video.py`): three TSN/TSM teachers, the joint
# teacher at L1, three students; results.md shows acc@1 and mAP.
#   python tools/run_pipeline.py configs/pipelines/offline_video.py
name = 'offline_video'
teachers = dict(
    direction='{{fileDirname}}/../teachers/offline_video_tsm_r18_direction.py',
    motion='{{fileDirname}}/../teachers/offline_video_tsm_r18_motion.py',
    objmotion='{{fileDirname}}/../teachers/offline_video_tsn_r18_objmotion.py',
)
joint_teacher = '{{fileDirname}}/../mlfd/joint_offline_video.py'
students = dict(
    direction='{{fileDirname}}/../mlfd/student_offline_video_direction.py',
    motion='{{fileDirname}}/../mlfd/student_offline_video_motion.py',
    objmotion='{{fileDirname}}/../mlfd/student_offline_video_objmotion.py',
)
