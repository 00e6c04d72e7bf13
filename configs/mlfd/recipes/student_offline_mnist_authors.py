# The offline mnist student with the authors' recipe (their released code):
# 0.6 KD (T = 2, x T^2) + 0.2 feature MSE + 0.2 CE, on the same schedule.
_base_ = ['../student_offline_mnist.py']
model = dict(loss_weights=dict(kd=0.6, feature=0.2, ce=0.2))
