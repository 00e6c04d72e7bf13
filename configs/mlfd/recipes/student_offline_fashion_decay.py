# Recipe variant (issue #14): the current weights with the distillation
# terms (KD, features) decayed linearly from their full weight at epoch 0 to
# 0 at epoch 15 of 20; the last 5 epochs are CE alone.
_base_ = ['./student_offline_fashion_diag.py']
custom_hooks = [
    dict(type='JointTeacherAccuracyHook'),
    dict(type='DistillDiagnosticsHook'),
    dict(type='LossWeightScheduleHook', terms=['kd', 'feature'],
         start_factor=1., end_factor=0., begin=0, end=15),
]
