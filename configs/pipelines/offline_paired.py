# Not the paper's recipe (issue #14): the default students of offline.py,
# each starting from the initial weights of its dataset's stage-1 run of the
# same seed (student_init='paired'); the teachers and joint teacher are the
# runs of configs/pipelines/offline.py (reused from work_dirs/offline).
#   python tools/run_pipeline.py configs/pipelines/offline_paired.py --seeds 0 1 2
_base_ = ['./offline.py']
name = 'offline_paired'
stages_of = '{{fileDirname}}/offline.py'
_recipes = '{{fileDirname}}/../mlfd/recipes/'
students = dict(
    mnist=_recipes + 'student_offline_mnist_paired.py',
    fashion=_recipes + 'student_offline_fashion_paired.py',
    animals=_recipes + 'student_offline_animals_paired.py',
)
