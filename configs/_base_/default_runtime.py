# Runtime shared by every config of this project.
default_scope = 'mmpretrain'
# Stock mmpretrain tools (tools/train.py of mmpretrain) import the plugin here.
custom_imports = dict(imports=['mlfd_mm'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2,
                    save_best='auto'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='VisualizationHook', enable=False),
    # Random generator states (main process and persistent dataloader
    # workers) saved with each checkpoint and restored on --resume, so that
    # a resumed run repeats an uninterrupted one. A default hook rather than
    # a custom one: configs that set `custom_hooks` keep it.
    rng_state=dict(type='RNGStateHook'),
)
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),  # tools/train.py switches to gloo on CPU
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
