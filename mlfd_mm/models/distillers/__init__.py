"""Distillers (registered in mmengine's root MODELS) and their hooks."""
from .mlfd_distiller import MLFDDistiller
from .teacher_accuracy_hook import JointTeacherAccuracyHook

__all__ = ['JointTeacherAccuracyHook', 'MLFDDistiller']
