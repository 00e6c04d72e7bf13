# Stage-1 teacher of the MLFD paper's set T1 (Iordache et al., WACV
# 2025), also the dataset-specific baseline, trained from scratch at
# 224 px: EfficientNet-B0 on TinyImageNet.
_base_ = [
    '../_base_/models/efficientnet_b0.py',
    '../_base_/datasets/tiny_imagenet.py',
    '../_base_/schedules/paper_sgd_224.py',
    '../_base_/default_runtime.py',
]
model = dict(head=dict(num_classes=200))
