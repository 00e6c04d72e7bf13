"""Feature-fusion necks of the joint teacher (one file per fusion family)."""
from .concat_fusion import ConcatFusionNeck

__all__ = ['ConcatFusionNeck']
