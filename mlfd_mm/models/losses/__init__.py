"""Distillation losses, registered in mmengine's root MODELS."""
from .feature import FeatureMSELoss
from .kd import KDLoss
from .rkd import RKDLoss

__all__ = ['FeatureMSELoss', 'KDLoss', 'RKDLoss']
