# Stage 2 of the paper's set T1: ResNet-18 (CIFAR-100), EfficientNet-B0
# (TinyImageNet) and SE-ResNeXt-26-D (ImageNet-Sketch), frozen, fused at
# their three deepest levels (28/14/7 px at 224 px input), one head per
# dataset. The datasets are those of the teachers' own configs;
# checkpoint='auto' is the best of each teacher's stage-1 run
# (tools/train.py links it as work_dirs/<teacher config>/best.pth; see
# mlfd_mm.config.auto_checkpoint).
_base_ = [
    '../_base_/models/joint_teacher.py',
    '../_base_/schedules/joint_paper.py',
    '../_base_/default_runtime.py'
]
_teacher_dir = '{{fileDirname}}/../teachers/'
model = dict(
    levels='L3',
    fusion=dict(width=256),
    teachers=[
        dict(name='cifar100', checkpoint='auto',
             config=_teacher_dir + 't1_resnet18_cifar100.py'),
        dict(name='tiny_imagenet', checkpoint='auto',
             config=_teacher_dir + 't1_efficientnet_b0_tiny_imagenet.py'),
        dict(name='imagenet_sketch', checkpoint='auto',
             config=_teacher_dir + 't1_seresnext26d_imagenet_sketch.py'),
    ])
train_dataloader = dict(batch_size=128, num_workers=8)
val_dataloader = dict(batch_size=128, num_workers=8)
test_dataloader = dict(batch_size=128, num_workers=8)
