# Stage-1 teacher for the same-dataset joint teacher of the MLFD paper
# (supplementary Table 4: T1's three architectures all on CIFAR-100),
# trained from scratch at 224 px: EfficientNet-B0 on CIFAR-100.
_base_ = [
    '../_base_/models/efficientnet_b0.py',
    '../_base_/datasets/cifar100.py',
    '../_base_/schedules/paper_sgd_224.py',
    '../_base_/default_runtime.py',
]
model = dict(head=dict(num_classes=100))
