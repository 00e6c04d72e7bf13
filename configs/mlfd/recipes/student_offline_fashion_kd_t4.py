# Recipe variant (issue #14): CE 1.0 + KD 0.6 at T = 4 + feature MSE 0.2.
_base_ = ['./student_offline_fashion_diag.py']
model = dict(temperature=4.0)
