# Stage 2 on the paper's 224 px sets: only the fusion necks and the heads
# learn, on top of frozen teachers, so the schedule is short next to the
# teachers' 200 from-scratch epochs. AdamW (lr 1e-3 for a total batch of
# 128, weight decay 0.05), one warm-up epoch, then cosine decay to zero;
# validation every epoch so that `save_best` picks the best joint teacher.
# The cosine phase has no `end`: mmengine ends it at train_cfg.max_epochs,
# so a config that changes the budget sets max_epochs alone.
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999),
                   weight_decay=0.05))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=1, eta_min=0.0,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=30, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=128)
