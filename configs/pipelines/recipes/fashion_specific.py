# Issue #14: more seeds of the dataset-specific fashion model alone (stage 1
# of configs/pipelines/offline.py), to measure its seed-to-seed spread.
#   python tools/run_pipeline.py configs/pipelines/recipes/fashion_specific.py --seeds 3 4
name = 'recipe_fashion_specific'
teachers = dict(
    fashion='{{fileDirname}}/../../teachers/offline_fashion_tinynet.py')
