"""Kept for imports of the former module: the checks live in
:mod:`mlfd_mm.checks`."""
from .checks.loaders import check_clip_frames, check_data_roots

__all__ = ['check_clip_frames', 'check_data_roots']
