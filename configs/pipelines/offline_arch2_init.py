# Not the paper's recipe (issue #14): offline_arch2.py's students start
# from their dataset's stage-1 weights (student_init='stage1'),
# with the default recipe; the teachers and joint teacher are the
# runs of offline_arch2.py.
#   python tools/run_pipeline.py configs/pipelines/offline_arch2_init.py --seeds 0 1 2
_base_ = ['./offline_arch2.py']
name = 'offline_arch2_init'
stages_of = '{{fileDirname}}/offline_arch2.py'
students = dict(
    fashion='{{fileDirname}}/../mlfd/student_arch2_fashion_init.py',
    digits='{{fileDirname}}/../mlfd/student_arch2_digits_init.py',
)
