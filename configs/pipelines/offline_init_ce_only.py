# Not the paper's recipe (issue #14): the offline students start from the
# stage-1 weights of their dataset (student_init='stage1'), trained another
# 20 epochs with CE alone, the same budget without a teacher (the control of
# offline_init.py), on the stage-1/2 runs of
# configs/pipelines/offline.py (reused from work_dirs/offline).
#   python tools/run_pipeline.py configs/pipelines/offline_init_ce_only.py --seeds 0 1 2
_base_ = ['./offline.py']
name = 'offline_init_ce_only'
stages_of = '{{fileDirname}}/offline.py'
_recipes = '{{fileDirname}}/../mlfd/recipes/'
students = dict(
    mnist=_recipes + 'student_offline_mnist_init_ce_only.py',
    fashion=_recipes + 'student_offline_fashion_init_ce_only.py',
    animals=_recipes + 'student_offline_animals_init_ce_only.py',
)
