# Stage 2 of the paper's set T4, the larger teachers of T1's datasets:
# ResNet-50 (CIFAR-100), EfficientNet-B1 (TinyImageNet) and SE-ResNeXt-50-D
# (ImageNet-Sketch), frozen, fused at their three deepest levels.
_base_ = ['./joint_t1.py']
_teacher_dir = '{{fileDirname}}/../teachers/'
model = dict(teachers=[
    dict(name='cifar100', checkpoint='auto',
         config=_teacher_dir + 't4_resnet50_cifar100.py'),
    dict(name='tiny_imagenet', checkpoint='auto',
         config=_teacher_dir + 't4_efficientnet_b1_tiny_imagenet.py'),
    dict(name='imagenet_sketch', checkpoint='auto',
         config=_teacher_dir + 't4_seresnext50d_imagenet_sketch.py'),
])
