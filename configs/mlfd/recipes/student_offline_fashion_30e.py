# Recipe variant (issue #14): the current recipe on a 30-epoch schedule
# instead of 20 (same warm-up, cosine ending at the last epoch), against
# the 30-epoch dataset-specific model (configs/teachers/
# offline_fashion_tinynet_30e.py, configs/pipelines/recipes/
# fashion_specific_30e.py); the joint teacher is the offline pipeline's.
_base_ = ['./student_offline_fashion_diag.py']
train_cfg = dict(max_epochs=30)
