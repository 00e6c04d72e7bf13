# Stage-1 teacher for the same-architecture joint teacher of the MLFD paper
# (Table 5: ResNet-18 on CIFAR-100 and ResNet-18 on TinyImageNet; the
# CIFAR-100 one is t1_resnet18_cifar100.py), trained from scratch at 224 px:
# ResNet-18 on TinyImageNet.
_base_ = [
    '../_base_/models/resnet18.py',
    '../_base_/datasets/tiny_imagenet.py',
    '../_base_/schedules/paper_sgd_224.py',
    '../_base_/default_runtime.py',
]
model = dict(head=dict(num_classes=200))
