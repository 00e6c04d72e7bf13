# Fine-tuning schedule for the paper's video teachers, which start from a
# Kinetics-400 checkpoint (mmaction2-style SGD fine-tuning): lr 0.01 for a
# total batch of 64 (8 GPUs x 8 clips; --auto-scale-lr rescales for other
# totals), 1 warm-up epoch, cosine decay over 25 epochs, gradient clipping
# as in mmaction2's TSN/TSM recipes.
max_epochs = 25
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4),
    clip_grad=dict(max_norm=40, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=1,
         eta_min=0.0, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs,
                 val_begin=1, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
auto_scale_lr = dict(enable=False, base_batch_size=64)
