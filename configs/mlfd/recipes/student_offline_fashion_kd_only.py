# Recipe variant (issue #14): CE 1.0 + KD 0.6 (T = 2), no feature term.
_base_ = ['./student_offline_fashion_diag.py']
model = dict(loss_weights=dict(kd=0.6, feature=0., ce=1.0))
