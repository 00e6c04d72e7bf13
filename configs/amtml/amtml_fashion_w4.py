# AMTML-KD where its premise holds (issue #15): a quarter-width ResNet-18
# student (configs/teachers/offline_fashion_resnet18_w4.py, ~45k parameters)
# taught by the three fashion teachers of different architectures
# (ResNet-18, TinyNet-E, SE-ResNeXt, each 3+ points above it), with the
# released defaults (alpha = 0.7, T = 5, RKD, L2 0.1 on the latent vectors).
# Multi-group hints, each teacher on its own student stage at the same
# resolution (32 px input): ResNet-18 stage 1 (16 px) -> student stage 1,
# TinyNet-E stage 1 (8 px) -> stage 2, SE-ResNeXt stage 1 (4 px) -> stage 3.
_base_ = ['./amtml_fashion_tinynet.py']
model = dict(
    student='{{fileDirname}}/../teachers/offline_fashion_resnet18_w4.py',
    teachers=_base_._fashion_teachers_w4,  # ResNet-18: 40 epochs
    hints=dict(
        _delete_=True,
        resnet18=dict(teacher_stage=1, student_stage=1),
        tinynet=dict(teacher_stage=1, student_stage=2),
        seresnext=dict(teacher_stage=1, student_stage=3)))
# theta and W are regularised by the latent L2 term alone, as released (no
# weight decay on them; the released code gives them their own SGD).
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    'teacher_latents': dict(decay_mult=0.),
    'latent_weight': dict(decay_mult=0.)}))
