"""Models; every class is registered in mmengine's root MODELS at import."""
from .connectors import FeatureConnector, build_connectors
from .distillers import (AMTMLDistiller, JointTeacherAccuracyHook,
                         MLFDDistiller)
from .heads import MultiDatasetClsHead
from .joint_teacher import JointTeacher
from .losses import FeatureMSELoss, KDLoss, RKDLoss
from .necks import ConcatFusionNeck
from .shared_backbone_classifier import SharedBackboneClassifier
from .teachers import FrozenTeacher

__all__ = [
    'AMTMLDistiller', 'ConcatFusionNeck', 'FeatureConnector',
    'FeatureMSELoss', 'FrozenTeacher', 'JointTeacher',
    'JointTeacherAccuracyHook', 'KDLoss', 'MLFDDistiller',
    'MultiDatasetClsHead', 'RKDLoss', 'SharedBackboneClassifier',
    'build_connectors'
]
