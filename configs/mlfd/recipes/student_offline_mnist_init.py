# Not the paper's recipe (issue #14): the current recipe, the mnist student
# starting from its dataset's stage-1 weights (the pipeline fills them in).
_base_ = ['../student_offline_mnist.py']
model = dict(student_init='stage1')
custom_hooks = [dict(type='JointTeacherAccuracyHook'),
                dict(type='DistillDiagnosticsHook')]
