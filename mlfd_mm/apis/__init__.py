"""What the tools do, as functions: run a pipeline, build a feature cache,
export a student, benchmark. ``tools/*.py`` parse arguments and call these."""
from .pipeline import (Stage, build_stages, pipeline_stages, run_pipeline,
                       set_student_teachers, set_teacher_checkpoints,
                       share_stages, stage_environment)
from .results_table import check_table, metric_percent, write_results

__all__ = [
    'Stage', 'build_stages', 'check_table', 'metric_percent',
    'pipeline_stages', 'run_pipeline', 'set_student_teachers',
    'set_teacher_checkpoints', 'share_stages', 'stage_environment',
    'write_results'
]
