# Issue #14: the dataset-specific fashion model on a 30-epoch schedule, the
# baseline of the 30-epoch student (configs/pipelines/recipes/fashion_30e.py).
#   python tools/run_pipeline.py configs/pipelines/recipes/fashion_specific_30e.py --seeds 0 1 2
name = 'recipe_fashion_specific_30e'
teachers = dict(
    fashion='{{fileDirname}}/../../teachers/offline_fashion_tinynet_30e.py')
