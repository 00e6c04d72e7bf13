"""What the tools do, as functions: run a pipeline, build a feature cache,
export a student, benchmark. ``tools/*.py`` parse arguments and call these."""
from .cache_sources import CacheConfigError
from .feature_cache import cache_features
from .pipeline import (Stage, build_stages, pipeline_stages, run_pipeline,
                       set_student_teachers, set_teacher_checkpoints,
                       share_stages, stage_environment)
from .results_table import check_table, metric_percent, write_results
from .runner import format_accuracy_table, load_config

__all__ = [
    'CacheConfigError', 'Stage', 'build_stages', 'cache_features',
    'check_table', 'format_accuracy_table', 'load_config', 'metric_percent',
    'pipeline_stages', 'run_pipeline', 'set_student_teachers',
    'set_teacher_checkpoints', 'share_stages', 'stage_environment',
    'write_results'
]
