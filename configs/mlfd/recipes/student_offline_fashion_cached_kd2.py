# Recipe variant (issue #14), from the joint-output cache: CE 1.0 + KD 2.0 (T
# = 2) + features 0.2.
_base_ = ['../student_offline_fashion_cached.py']
model = dict(loss_weights=dict(kd=2.0))
