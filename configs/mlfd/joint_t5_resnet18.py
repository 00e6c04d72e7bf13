# Same-architecture joint teacher (the paper's Table 5): ResNet-18 on
# CIFAR-100 and ResNet-18 on TinyImageNet, frozen, fused at their three
# deepest levels, one head per dataset; otherwise joint_t1.
_base_ = ['./joint_t1.py']
_teacher_dir = '{{fileDirname}}/../teachers/'
model = dict(teachers=[
    dict(name='cifar100', checkpoint='auto',
         config=_teacher_dir + 't1_resnet18_cifar100.py'),
    dict(name='tiny_imagenet', checkpoint='auto',
         config=_teacher_dir + 't5_resnet18_tiny_imagenet.py'),
])
