"""The teacher-feature cache's benchmark (tools/benchmark.py): variants,
measurements, report."""
from .cache_reads import format_cache_reads, run_cache_reads
from .measures import peak_rss, time_variants
from .report import TARGETS, format_report, step_section, verdict
from .run import JOINT_CONFIG, STUDENT_CONFIG, run_benchmark
from .stages import format_stage_ratios, run_stage_ratios
from .training_floor import (floor_variants, format_training_floor,
                             run_training_floor, training_floor)

__all__ = [
    'JOINT_CONFIG', 'STUDENT_CONFIG', 'TARGETS', 'format_cache_reads',
    'format_report', 'format_stage_ratios', 'peak_rss', 'run_stage_ratios',
    'run_benchmark', 'run_cache_reads', 'step_section', 'time_variants',
    'verdict', 'floor_variants', 'format_training_floor',
    'run_training_floor', 'training_floor'
]
