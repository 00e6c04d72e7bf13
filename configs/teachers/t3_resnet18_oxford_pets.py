# Stage-1 teacher of the MLFD paper's set T3 (Iordache et al., WACV
# 2025), also the dataset-specific baseline, trained from scratch at
# 224 px: ResNet-18 on Oxford-IIIT Pets.
_base_ = [
    '../_base_/models/resnet18.py',
    '../_base_/datasets/oxford_pets.py',
    '../_base_/schedules/paper_sgd_224.py',
    '../_base_/default_runtime.py',
]
model = dict(head=dict(num_classes=37))
