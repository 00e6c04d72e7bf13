# Same-architecture joint teacher (the paper's Table 5): ResNet-18 on
# CIFAR-100 and ResNet-18 on TinyImageNet, frozen, fused at their three
# deepest levels, one head per dataset.
_base_ = [
    '../_base_/models/joint_teacher.py',
    '../_base_/schedules/joint_paper.py',
    '../_base_/default_runtime.py'
]
_teachers = dict(
    cifar100='configs/teachers/t1_resnet18_cifar100.py',
    tiny_imagenet='configs/teachers/t5_resnet18_tiny_imagenet.py',
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
