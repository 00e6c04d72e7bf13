# Recipe variant (issue #14): CE 1.0 + feature MSE 0.2, no KD term.
_base_ = ['./student_offline_fashion_diag.py']
model = dict(loss_weights=dict(kd=0., feature=0.2, ce=1.0))
