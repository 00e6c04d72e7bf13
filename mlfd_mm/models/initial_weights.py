"""The initial weights of a stage-1 run, drawn again.

``student_init='paired'`` (issue #14; not part of the paper) starts a
distilled student from exactly the random weights its dataset-specific
stage-1 model started from under the same seed, so that the two runs differ
only by the teacher. Those weights are not saved by a stage-1 run; they are
drawn again here the way mmengine's Runner draws them: seed the generators
with the config's ``randomness.seed``, build the config's ``model`` (its
top-level ``data_preprocessor`` merged in, in its ``default_scope``), then
``init_weights()``. Between those two steps the Runner builds loaders,
optimizer and schedulers, which draw nothing from torch's generator
(tests/test_student_init_paired.py compares with a real Runner).
"""
import copy
from typing import Dict, Optional

import torch
from mmengine.registry import MODELS, DefaultScope
from mmengine.runner import set_random_seed

from ..config import resolve_model_config, whole_config


def stage1_initial_weights(config, seed: Optional[int] = None,
                           what: str = 'student_init.paired_with'
                           ) -> Dict[str, torch.Tensor]:
    """The state dict a stage-1 Runner of ``config`` initialises its model
    with (rank 0), before its first training step.

    The global generators (Python, numpy, torch) are left as they were.

    Args:
        config (str | dict | Config): The stage-1 config (a file, or a whole
            config with a ``model``), e.g. a pipeline's
            ``<seed dir>/teachers/<dataset>/config.py``.
        seed (int, optional): The seed of the run to pair with. Defaults to
            the config's ``randomness.seed``.
        what (str): What the config is, for messages.

    Returns:
        dict[str, Tensor]: The model's initial state dict.

    Raises:
        ValueError: No seed (the config's ``randomness.seed`` is None: its
            Runner drew one at random, which cannot be drawn again), or the
            config has a ``load_from`` (its run did not start from random
            weights).
    """
    whole = whole_config(config, what)
    if whole is None:
        raise TypeError(f'{what}: needs the stage-1 config file (or whole '
                        'config with its `randomness`), not a model config')
    model_cfg, scope = resolve_model_config(whole, what)
    source = config if isinstance(config, str) else 'the config'
    if whole.get('load_from'):
        # Its run trained from that checkpoint, not from these draws.
        raise ValueError(
            f'{what}: {source} starts from load_from={whole.load_from!r}, '
            'not from random weights; start the student from that '
            'checkpoint instead (student_init=<the file>)')
    if seed is None:
        seed = (whole.get('randomness') or {}).get('seed')
    if seed is None:
        raise ValueError(
            f'{what}: {source} has no randomness.seed (its Runner drew a '
            'random seed, so its initial weights cannot be drawn again); '
            'give student_init=dict(paired_with=..., seed=<the seed>)')
    # (imported here: mlfd_mm.engine imports the models)
    from ..engine.rng_state_hook import capture_rng_state, restore_rng_state
    saved = capture_rng_state()
    try:
        set_random_seed(int(seed))
        with DefaultScope.overwrite_default_scope(scope):
            model = MODELS.build(copy.deepcopy(model_cfg))
        if hasattr(model, 'init_weights'):
            model.init_weights()
        return {k: v.detach().clone() for k, v in model.state_dict().items()}
    finally:
        restore_rng_state(saved)
