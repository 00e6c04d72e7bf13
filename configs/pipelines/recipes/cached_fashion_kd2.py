# Issue #14 screening on the cached pipeline: the fashion student of recipe
# variant 'kd2' (CE 1.0 + KD 2.0 (T = 2) + features 0.2), on the stage-1/2
# runs of configs/pipelines/offline_cached.py (work_dirs/offline_cached,
# reused).
#   python tools/run_pipeline.py configs/pipelines/recipes/cached_fashion_kd2.py --seeds 0 1 2
_base_ = ['../offline_cached.py']
name = 'recipe_cached_fashion_kd2'
stages_of = '{{fileDirname}}/../offline_cached.py'
students = dict(
    _delete_=True,
    fashion='{{fileDirname}}/../../mlfd/recipes/student_offline_fashion_cached_kd2.py')
