# Not the paper's recipe (issue #14): offline_arch2.py's default students,
# each starting from the initial weights of its dataset's stage-1 run of the
# same seed (student_init='paired'); teachers and joint teacher are the runs
# of offline_arch2.py.
#   python tools/run_pipeline.py configs/pipelines/offline_arch2_paired.py --seeds 0 1 2
_base_ = ['./offline_arch2.py']
name = 'offline_arch2_paired'
stages_of = '{{fileDirname}}/offline_arch2.py'
_recipes = '{{fileDirname}}/../mlfd/recipes/'
students = dict(
    fashion=_recipes + 'student_arch2_fashion_paired.py',
    digits=_recipes + 'student_arch2_digits_paired.py',
)
