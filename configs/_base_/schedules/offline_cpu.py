# Short schedule that trains the offline 32x32 teachers on a 2-core CPU.
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=5e-4,
                   nesterov=True))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    # No `end`: the cosine phase ends at train_cfg.max_epochs (mmengine's
    # default), so another budget is one max_epochs line; a 1-epoch run
    # stays in the warm-up (mlfd_mm.config.fit_schedulers_to_epochs).
    dict(type='CosineAnnealingLR', by_epoch=True, begin=1),
]
train_cfg = dict(by_epoch=True, max_epochs=20, val_interval=5)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=64)
