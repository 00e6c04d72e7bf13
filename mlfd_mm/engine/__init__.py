"""Training-loop hooks of the project (registered in mmengine's HOOKS)."""
from .autocast_optim_wrapper import AutocastOptimWrapper
from .deferred_runtime_info_hook import DeferredRuntimeInfoHook
from .distill_diagnostics_hook import DistillDiagnosticsHook
from .loss_weight_schedule_hook import LossWeightScheduleHook
from .rng_state_hook import RNGStateHook

__all__ = [
    'AutocastOptimWrapper', 'DeferredRuntimeInfoHook',
    'DistillDiagnosticsHook', 'LossWeightScheduleHook', 'RNGStateHook'
]
