# Same-dataset joint teacher (the paper's supplementary Table 4): T1's three
# architectures, ResNet-18, EfficientNet-B0 and SE-ResNeXt-26-D, all trained
# on CIFAR-100, frozen and fused at their three deepest levels; one dataset,
# so one head. Compare with the T1 joint teacher's CIFAR-100 head.
_base_ = ['./joint_t1.py']
_teacher_dir = '{{fileDirname}}/../teachers/'
model = dict(
    dataset_names=['cifar100'],
    num_classes=[100],
    teachers=[
        dict(name='resnet18', checkpoint='auto',
             config=_teacher_dir + 't1_resnet18_cifar100.py'),
        dict(name='efficientnet_b0', checkpoint='auto',
             config=_teacher_dir + 't1_efficientnet_b0_cifar100.py'),
        dict(name='seresnext26d', checkpoint='auto',
             config=_teacher_dir + 't1_seresnext26d_cifar100.py'),
    ])
# The loaders' one dataset (not one per teacher)
joint_datasets = dict(cifar100=_teacher_dir + 't1_resnet18_cifar100.py')
