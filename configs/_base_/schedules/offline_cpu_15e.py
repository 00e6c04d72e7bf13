# offline_cpu.py at 15 epochs. Its cosine phase names `end` (20), so a
# shorter budget sets the scheduler too, not only train_cfg.max_epochs:
# with max_epochs=15 alone the last epoch would run at 23% of the peak rate.
_base_ = ['./offline_cpu.py']
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=1, end=15,
         T_max=14),
]
train_cfg = dict(max_epochs=15)
