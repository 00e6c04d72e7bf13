# A quarter-width ResNet-18 (CIFAR stem, channels 4-8-16-32) on offline
# fashion: the small student of the AMTML-KD comparison (configs/amtml/),
# trained alone here (stage 1), the baseline every distilled student is
# measured against: 45k parameters, the teachers 0.56M-1.9M.
_base_ = ['./offline_fashion_resnet18.py']
model = dict(
    backbone=dict(stem_channels=4, base_channels=4),
    head=dict(in_channels=32))
