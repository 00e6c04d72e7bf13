# Stage 2 of the paper's set T1: ResNet-18 (CIFAR-100), EfficientNet-B0
# (TinyImageNet) and SE-ResNeXt-26-D (ImageNet-Sketch), frozen, fused at
# their three deepest levels (28/14/7 px at 224 px input), one head per
# dataset. The datasets are those of the teachers' own configs; each
# checkpoint is the best of its stage-1 run (tools/train.py links it as
# work_dirs/<teacher config>/best.pth).
_base_ = [
    '../_base_/models/joint_teacher.py',
    '../_base_/schedules/joint_paper.py',
    '../_base_/default_runtime.py'
]
_teachers = dict(
    cifar100='configs/teachers/t1_resnet18_cifar100.py',
    tiny_imagenet='configs/teachers/t1_efficientnet_b0_tiny_imagenet.py',
    imagenet_sketch='configs/teachers/t1_seresnext26d_imagenet_sketch.py',
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
