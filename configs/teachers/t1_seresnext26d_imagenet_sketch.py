# Stage-1 teacher of the MLFD paper's set T1 (Iordache et al., WACV
# 2025), also the dataset-specific baseline, trained from scratch at
# 224 px: SE-ResNeXt-26-D on ImageNet-Sketch.
_base_ = [
    '../_base_/models/seresnext26d.py',
    '../_base_/datasets/imagenet_sketch.py',
    '../_base_/schedules/paper_sgd_224.py',
    '../_base_/default_runtime.py',
]
model = dict(head=dict(num_classes=1000))
