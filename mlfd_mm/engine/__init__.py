"""Training-loop hooks of the project (registered in mmengine's HOOKS)."""
from .rng_state_hook import RNGStateHook

__all__ = ['RNGStateHook']
