# Supplementary Table 1 of the paper: T3 with m = 2 datasets, the first 2
# teachers of joint_t3 (Caltech-101 and Flowers-102); the rest is joint_t3.
_base_ = ['./joint_t3.py']
model = dict(teachers=_base_.model.teachers[:2])
# The budget of joint_t1.py for m = 2 datasets: 40 / m epochs.
train_cfg = dict(max_epochs=20)
