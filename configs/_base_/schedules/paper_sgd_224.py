# From-scratch schedule for the paper's 224 px teachers (T1, T3, T4).
# SGD + Nesterov, lr 0.1 for a total batch of 128 (the dataset configs use
# 128 on one GPU; --auto-scale-lr rescales for other totals), weight decay
# 5e-4 because these datasets are small for training from scratch,
# 5 warm-up epochs then cosine decay to zero at train_cfg.max_epochs (200).
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4,
                   nesterov=True))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=5,
         eta_min=0.0, convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=200, val_interval=5)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=128)
