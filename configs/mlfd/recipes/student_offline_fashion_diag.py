# The offline fashion student with the current recipe (CE 1.0, KD 0.6 at
# T = 2, feature MSE 0.2), instrumented: DistillDiagnosticsHook logs, at
# every validation, KD agreement with the joint teacher, each connector's
# match to its joint level and the train/val gap (training is unchanged by
# it). The recipe variants of issue #14 inherit this file.
_base_ = ['../student_offline_fashion.py']
custom_hooks = [dict(type='JointTeacherAccuracyHook'),
                dict(type='DistillDiagnosticsHook')]
