"""mlfd_mm: Multi-Level Feature Distillation for OpenMMLab.

Importing the package applies the compat fixes first (they must precede any
torchvision import), then imports the subpackages so that every class is
registered in mmengine's root registries. Nothing else changes globally:
checkpoints still unpickle with ``weights_only=True`` (see
:mod:`mlfd_mm.checkpoint`).
"""
from . import compat

compat.apply_all()

from . import datasets, engine, evaluation, models  # noqa: E402,F401

__version__ = '0.1.0'
