# Recipe variant (issue #14), from the joint-output cache: CE 1.0 + KD 0.6 (T
# = 2), no feature term.
_base_ = ['../student_offline_fashion_cached.py']
model = dict(loss_weights=dict(feature=0.))
