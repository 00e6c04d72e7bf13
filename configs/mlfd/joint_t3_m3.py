# Supplementary Table 1 of the paper: T3 with m = 3 datasets, the first 3
# teachers of joint_t3 (Caltech-101, Flowers-102 and CUB-200-2011); the rest
# is joint_t3.
_base_ = ['./joint_t3.py']
model = dict(teachers=_base_.model.teachers[:3])
# The budget of joint_t1.py for m = 3 datasets: 40 / m epochs.
train_cfg = dict(max_epochs=13)
