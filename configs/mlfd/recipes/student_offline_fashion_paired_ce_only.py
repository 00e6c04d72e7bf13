# Issue #14 control: CE alone inside the distiller (student_offline_fashion_ce_only.py),
# starting from the initial weights of the fashion stage-1 run of the same seed
# (student_init='paired'): should repeat the dataset-specific model.
_base_ = ['./student_offline_fashion_ce_only.py']
model = dict(student_init='paired')
