# Stage 2 of the paper's set T3 (m = 4 datasets): ResNet-18 (Caltech-101),
# EfficientNet-B0 (Flowers-102), SE-ResNeXt-26-D (CUB-200-2011) and
# ResNet-18 (Oxford-IIIT Pets), frozen, fused at their three deepest levels.
# joint_t3_m2.py / joint_t3_m3.py keep the first 2 / 3 of these datasets
# (supplementary Table 1).
_base_ = [
    '../_base_/models/joint_teacher.py',
    '../_base_/schedules/joint_paper.py',
    '../_base_/default_runtime.py'
]
_teachers = dict(
    caltech101='configs/teachers/t3_resnet18_caltech101.py',
    flowers102='configs/teachers/t3_efficientnet_b0_flowers102.py',
    cub='configs/teachers/t3_seresnext26d_cub.py',
    oxford_pets='configs/teachers/t3_resnet18_oxford_pets.py',
)
model = dict(
    levels='L3',
    fusion=dict(width=256),
    teachers=[
        dict(name=name, config=config,
             checkpoint=config.replace('configs/teachers/', 'work_dirs/')[:-3]
             + '/best.pth') for name, config in _teachers.items()
    ])
train_dataloader = dict(batch_size=128, num_workers=8, dataset=dict(
    names=list(_teachers),
    datasets=[dict(config=c, split='train') for c in _teachers.values()]))
val_dataloader = dict(batch_size=128, num_workers=8, dataset=dict(
    names=list(_teachers),
    datasets=[dict(config=c, split='val') for c in _teachers.values()]))
test_dataloader = dict(batch_size=128, num_workers=8, dataset=dict(
    names=list(_teachers),
    datasets=[dict(config=c, split='test') for c in _teachers.values()]))
