# Cross-dataset generalisation (supplementary Table 6): a digits student from
# the offline joint teacher (mnist / fashion / animals), which never saw
# digits, against the digits model trained alone. The teachers and the joint
# teacher are the runs of configs/pipelines/offline.py (work_dirs/offline),
# trained there if missing; the digits teacher joins them there.
#   python tools/run_pipeline.py configs/pipelines/offline_cross_dataset.py --seeds 0 1 2
_base_ = ['./offline.py']
name = 'offline_cross_dataset'
stages_of = '{{fileDirname}}/offline.py'
teachers = dict(
    digits='{{fileDirname}}/../teachers/offline_digits_resnet18.py')
students = dict(
    _delete_=True,
    digits='{{fileDirname}}/../mlfd/student_offline_digits_cross.py')
