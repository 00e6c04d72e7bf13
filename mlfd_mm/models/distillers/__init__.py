"""Distillers (registered in mmengine's root MODELS), their student side
and their hooks."""
from .amtml import AMTMLDistiller
from .base import BaseDistiller, check_loss_weights
from .mlfd import MLFDDistiller
from .student import (DistilledStudent, raw_data_preprocessor,
                      resolve_student_config, student_data_preprocessor)
from .teacher_accuracy_hook import JointTeacherAccuracyHook
from .teacher_weights_hook import TeacherWeightsHook

__all__ = [
    'AMTMLDistiller', 'BaseDistiller', 'DistilledStudent',
    'JointTeacherAccuracyHook', 'MLFDDistiller', 'check_loss_weights',
    'raw_data_preprocessor', 'resolve_student_config',
    'student_data_preprocessor', 'TeacherWeightsHook'
]
