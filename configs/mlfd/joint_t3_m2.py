# Supplementary Table 1 of the paper: T3 with m = 2 datasets, the first 2
# teachers of joint_t3 (Caltech-101 and Flowers-102); the rest is joint_t3.
_base_ = ['./joint_t3.py']
model = dict(teachers=_base_.model.teachers[:2])
# The budget of joint_t1.py for m = 2 datasets: 40 / m epochs.
_joint_epochs = 20
train_cfg = dict(max_epochs=_joint_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=1,
         end=_joint_epochs, T_max=_joint_epochs - 1, eta_min=0.0,
         convert_to_iter_based=True),
]
