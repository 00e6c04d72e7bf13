"""Distillers (registered in mmengine's root MODELS) and their hooks."""
from .amtml_distiller import AMTMLDistiller
from .mlfd_distiller import MLFDDistiller
from .teacher_accuracy_hook import JointTeacherAccuracyHook

__all__ = ['AMTMLDistiller', 'JointTeacherAccuracyHook', 'MLFDDistiller']
