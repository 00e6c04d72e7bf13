# Not the paper's recipe (issue #14): offline_arch2.py's students start
# from their dataset's stage-1 weights (student_init='stage1'),
# trained with CE alone: the same budget
# without a teacher, the control of offline_arch2_init.py. The teachers are
# the runs of offline_arch2.py.
#   python tools/run_pipeline.py configs/pipelines/offline_arch2_init_ce_only.py --seeds 0 1 2
_base_ = ['./offline_arch2.py']
name = 'offline_arch2_init_ce_only'
stages_of = '{{fileDirname}}/offline_arch2.py'
students = dict(
    fashion='{{fileDirname}}/../mlfd/student_arch2_fashion_init_ce_only.py',
    digits='{{fileDirname}}/../mlfd/student_arch2_digits_init_ce_only.py',
)
