# Issue #14 control: CE alone inside the distiller, starting from the initial
# weights of the fashion stage-1 run of the same seed (student_init='paired'),
# on the offline pipeline's stage-1/2 runs (work_dirs/offline, reused).
#   python tools/run_pipeline.py configs/pipelines/recipes/fashion_paired_ce_only.py --seeds 0
_base_ = ['../offline.py']
name = 'recipe_fashion_paired_ce_only'
stages_of = '{{fileDirname}}/../offline.py'
students = dict(
    _delete_=True,
    fashion='{{fileDirname}}/../../mlfd/recipes/student_offline_fashion_paired_ce_only.py')
