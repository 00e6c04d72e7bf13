# Not the paper's recipe (issue #14): the offline students start from the
# stage-1 weights of their dataset (student_init='stage1'), with the current
# recipe (CE 1.0, KD 0.6 at T = 2, feature MSE 0.2), on the stage-1/2 runs of
# configs/pipelines/offline.py (reused from work_dirs/offline).
#   python tools/run_pipeline.py configs/pipelines/offline_init.py --seeds 0 1 2
_base_ = ['./offline.py']
name = 'offline_init'
stages_of = '{{fileDirname}}/offline.py'
_recipes = '{{fileDirname}}/../mlfd/recipes/'
students = dict(
    mnist=_recipes + 'student_offline_mnist_init.py',
    fashion=_recipes + 'student_offline_fashion_init.py',
    animals=_recipes + 'student_offline_animals_init.py',
)
