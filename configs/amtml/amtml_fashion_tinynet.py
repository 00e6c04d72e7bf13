# AMTML-KD on offline fashion: a TinyNet-E student (the architecture of the
# fashion model, configs/teachers/offline_fashion_tinynet.py, trained afresh)
# taught by three fashion teachers of different architectures, on the
# teacher's data and schedule. Each teacher hints one student stage at the
# same resolution (32 px input): ResNet-18 stage 2 (8 px) -> student stage 1,
# TinyNet-E stage 2 (4 px) -> stage 2, SE-ResNeXt stage 2 (2 px) -> stage 3.
# checkpoint='auto': `python tools/train.py configs/teachers/
# offline_fashion_<x>.py` links each run's best checkpoint as
# work_dirs/offline_fashion_<x>/best.pth (mlfd_mm.config.auto_checkpoint).
_base_ = [
    '../_base_/models/amtml_distiller.py',
    '../_base_/datasets/offline_fashion.py',
    '../_base_/schedules/offline_cpu.py',
    '../_base_/default_runtime.py',
    '../_base_/teachers/offline_fashion_three.py',
]
model = dict(
    student='{{fileDirname}}/../teachers/offline_fashion_tinynet.py',
    teachers=_base_._fashion_teachers,
    hints=dict(
        resnet18=dict(teacher_stage=2, student_stage=1),
        tinynet=dict(teacher_stage=2, student_stage=2),
        seresnext=dict(teacher_stage=2, student_stage=3)),
)
