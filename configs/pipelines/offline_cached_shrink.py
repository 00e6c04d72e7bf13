# offline_cached.py with the fusion neck that pools before it projects
# (configs/mlfd/joint_offline_cached_shrink.py); see README.
_base_ = ['./offline_cached.py']
name = 'offline_cached_shrink'
joint_teacher = '{{fileDirname}}/../mlfd/joint_offline_cached_shrink.py'
