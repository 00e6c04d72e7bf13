# Stage-1 teacher of the MLFD paper's set T4 (Iordache et al., WACV
# 2025), also the dataset-specific baseline, trained from scratch at
# 224 px: EfficientNet-B1 on TinyImageNet.
_base_ = [
    '../_base_/models/efficientnet_b1.py',
    '../_base_/datasets/tiny_imagenet.py',
    '../_base_/schedules/paper_sgd_224.py',
    '../_base_/default_runtime.py',
]
model = dict(head=dict(num_classes=200))
