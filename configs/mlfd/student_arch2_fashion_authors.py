# student_arch2_fashion.py with the authors' loss weights (their released code):
# 0.6 KD (T = 2) + 0.2 feature MSE + 0.2 CE.
_base_ = ['./student_arch2_fashion.py']
model = dict(loss_weights=dict(kd=0.6, feature=0.2, ce=0.2))
