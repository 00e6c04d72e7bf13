# Recipe variant (issue #14), from the joint-output cache: CE 1.0 + KD 0.6 +
# features 0.2 at the deepest level only (student stage 4 -> joint l3).
_base_ = ['../student_offline_fashion_cached.py']
model = dict(distill=[(4, 'l3')])
