# Recipe variant (issue #14): the current weights with the distillation
# terms (KD, features) warmed up linearly from 0 over the first 5 of 20 epochs.
_base_ = ['./student_offline_fashion_diag.py']
custom_hooks = [
    dict(type='JointTeacherAccuracyHook'),
    dict(type='DistillDiagnosticsHook'),
    dict(type='LossWeightScheduleHook', terms=['kd', 'feature'],
         start_factor=0., end_factor=1., begin=0, end=5),
]
