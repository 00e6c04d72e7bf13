# Recipe variant (issue #14): CE alone inside the distiller (the dataset-specific baseline's loss; no teacher term).
_base_ = ['./student_offline_fashion_diag.py']
model = dict(loss_weights=dict(kd=0., feature=0., ce=1.0))
