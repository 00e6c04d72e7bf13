"""Models; every class is registered in mmengine's root MODELS at import."""
from .heads import MultiDatasetClsHead
from .joint_teacher import JointTeacher
from .necks import ConcatFusionNeck
from .shared_backbone_classifier import SharedBackboneClassifier
from .teachers import FrozenTeacher

__all__ = [
    'ConcatFusionNeck', 'FrozenTeacher', 'JointTeacher', 'MultiDatasetClsHead',
    'SharedBackboneClassifier'
]
