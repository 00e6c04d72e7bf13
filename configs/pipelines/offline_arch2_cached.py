# The second architecture set (offline_arch2.py) with caches in stages 2
# and 3, as offline_cached.py does for the offline set: the joint teacher
# trains from its teachers' cached features (no augmentation reaches it),
# each student from its joint teacher's cached outputs.
#   python tools/run_pipeline.py configs/pipelines/offline_arch2_cached.py --seeds 0 1 2
_base_ = ['./offline_arch2.py']
name = 'offline_arch2_cached'
joint_teacher = '{{fileDirname}}/../mlfd/joint_offline_arch2_cached.py'
students = dict(
    fashion='{{fileDirname}}/../mlfd/student_arch2_fashion_cached.py',
    digits='{{fileDirname}}/../mlfd/student_arch2_digits_cached.py',
)
