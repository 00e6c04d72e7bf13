# Recipe variant (issue #14): the current weights with half the learning
# rate (0.025 instead of the teachers' 0.05), same 20-epoch schedule and
# warm-up: a student with extra loss terms may need another step size; the
# dataset-specific model keeps its own (same budget).
_base_ = ['./student_offline_fashion_diag.py']
optim_wrapper = dict(optimizer=dict(lr=0.025))
