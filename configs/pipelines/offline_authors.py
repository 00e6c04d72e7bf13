# The offline students with the authors' loss weights (0.6 KD at T = 2,
# 0.2 feature MSE, 0.2 CE), on the stage-1/2 runs of configs/pipelines/
# offline.py (reused from work_dirs/offline, trained there if missing).
#   python tools/run_pipeline.py configs/pipelines/offline_authors.py --seeds 0 1 2
_base_ = ['./offline.py']
name = 'offline_authors'
stages_of = '{{fileDirname}}/offline.py'
_recipes = '{{fileDirname}}/../mlfd/recipes/'
students = dict(
    mnist=_recipes + 'student_offline_mnist_authors.py',
    fashion=_recipes + 'student_offline_fashion_authors.py',
    animals=_recipes + 'student_offline_animals_authors.py',
)
