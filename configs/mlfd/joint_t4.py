# Stage 2 of the paper's set T4, the larger teachers of T1's datasets:
# ResNet-50 (CIFAR-100), EfficientNet-B1 (TinyImageNet) and SE-ResNeXt-50-D
# (ImageNet-Sketch), frozen, fused at their three deepest levels.
_base_ = [
    '../_base_/models/joint_teacher.py',
    '../_base_/schedules/joint_paper.py',
    '../_base_/default_runtime.py'
]
_teachers = dict(
    cifar100='configs/teachers/t4_resnet50_cifar100.py',
    tiny_imagenet='configs/teachers/t4_efficientnet_b1_tiny_imagenet.py',
    imagenet_sketch='configs/teachers/t4_seresnext50d_imagenet_sketch.py',
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
