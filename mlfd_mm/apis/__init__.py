"""What the tools do, as functions: run a pipeline, build a feature cache,
export a student, benchmark the cache, prepare the offline data, report a
run. ``tools/*.py`` parse arguments and call these."""
from .benchmark import run_benchmark
from .cache_sources import CacheConfigError
from .export import export_student
from .feature_cache import cache_features
from .offline_data import prepare_offline_images, prepare_offline_videos
from .pipeline import (Stage, build_stages, pipeline_stages, run_pipeline,
                       share_stages, stage_environment)
from .report import report_pipeline_run
from .results_table import check_table, metric_percent, write_results
from .runner import format_accuracy_table, load_config
from .stage_overrides import set_student_teachers, set_teacher_checkpoints

__all__ = [
    'CacheConfigError', 'Stage', 'build_stages', 'cache_features',
    'check_table', 'export_student', 'format_accuracy_table', 'load_config',
    'metric_percent', 'pipeline_stages', 'prepare_offline_images',
    'prepare_offline_videos', 'report_pipeline_run', 'run_benchmark',
    'run_pipeline', 'set_student_teachers', 'set_teacher_checkpoints',
    'share_stages', 'stage_environment', 'write_results'
]
