# Issue #14 screening: the fashion student of recipe variant '30e' on the
# offline pipeline's stage-1/2 runs (work_dirs/offline, reused).
#   python tools/run_pipeline.py configs/pipelines/recipes/fashion_30e.py --seeds 0 1 2
_base_ = ['../offline.py']
name = 'recipe_fashion_30e'
stages_of = '{{fileDirname}}/../offline.py'
students = dict(
    _delete_=True,
    fashion='{{fileDirname}}/../../mlfd/recipes/student_offline_fashion_30e.py')
