# Cross-dataset generalisation (the paper's supplementary Table 6): a digits
# student (ResNet-18, the architecture of configs/teachers/
# offline_digits_resnet18.py, trained afresh) distilled from the offline joint
# teacher of mnist / fashion / animals, which never saw digits. The joint
# teacher has no digits head, so `dataset=None`: feature distillation and CE
# only (kd must be 0).
#   python tools/run_pipeline.py configs/pipelines/offline_cross_dataset.py
_base_ = [
    '../_base_/models/mlfd_distiller.py',
    '../_base_/datasets/offline_digits.py',
    '../_base_/schedules/offline_cpu.py',
    '../_base_/default_runtime.py',
]
# checkpoint='auto': the joint teacher of `make demo`'s seed-0 run
pipeline_dir = '{{fileDirname}}/../../work_dirs/offline/seed0'
model = dict(
    student='{{fileDirname}}/../teachers/offline_digits_resnet18.py',
    teacher=dict(config='{{fileDirname}}/joint_offline.py',
                 checkpoint='auto'),
    dataset=None,
    loss_weights=dict(kd=0., feature=0.2, ce=1.0),
    distill=[(1, 'l1'), (2, 'l2'), (3, 'l3')],
)
# The joint teacher has no head for digits: nothing to report.
custom_hooks = []
