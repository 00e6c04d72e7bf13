# The cached pipeline with the joint teacher on the paper's budget: 4 epochs,
# 1/5 of a teacher's 20 (MLFD paper, supp. "Time complexity"). Seed 0: the
# joint stage at 1.13x a teacher's CPU time instead of 1.58x, the students
# 95.30 / 77.55 / 86.40 instead of 95.60 / 79.80 / 86.40 (README, "The cached
# pipeline").
#   python tools/run_pipeline.py configs/pipelines/offline_cached_short.py
_base_ = ['./offline_cached.py']
name = 'offline_cached_short'
joint_teacher = '{{fileDirname}}/../mlfd/joint_offline_cached_short.py'
