# Issue #14 screening, not the paper's recipe: variant 'kd_only'
# (student_offline_fashion_kd_only.py) starting from the initial weights of the
# fashion stage-1 run of the same seed (student_init='paired').
_base_ = ['./student_offline_fashion_kd_only.py']
model = dict(student_init='paired')
