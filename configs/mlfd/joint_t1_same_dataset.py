# Same-dataset joint teacher (the paper's supplementary Table 4): T1's three
# architectures, ResNet-18, EfficientNet-B0 and SE-ResNeXt-26-D, all trained
# on CIFAR-100, frozen and fused at their three deepest levels; one dataset,
# so one head. Compare with the T1 joint teacher's CIFAR-100 head.
_base_ = [
    '../_base_/models/joint_teacher.py',
    '../_base_/schedules/joint_paper.py',
    '../_base_/default_runtime.py'
]
_teachers = dict(
    resnet18='configs/teachers/t1_resnet18_cifar100.py',
    efficientnet_b0='configs/teachers/t1_efficientnet_b0_cifar100.py',
    seresnext26d='configs/teachers/t1_seresnext26d_cifar100.py',
)
_dataset = 'configs/teachers/t1_resnet18_cifar100.py'
model = dict(
    levels='L3',
    fusion=dict(width=256),
    dataset_names=['cifar100'],
    num_classes=[100],
    teachers=[
        dict(name=name, config=config,
             checkpoint=config.replace('configs/teachers/', 'work_dirs/')[:-3]
             + '/best.pth') for name, config in _teachers.items()
    ])
train_dataloader = dict(batch_size=128, num_workers=8, dataset=dict(
    names=['cifar100'], datasets=[dict(config=_dataset, split='train')]))
val_dataloader = dict(batch_size=128, num_workers=8, dataset=dict(
    names=['cifar100'], datasets=[dict(config=_dataset, split='val')]))
test_dataloader = dict(batch_size=128, num_workers=8, dataset=dict(
    names=['cifar100'], datasets=[dict(config=_dataset, split='test')]))
