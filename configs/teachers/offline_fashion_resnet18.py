# Stage 1 on offline fashion with a ResNet-18: one of the three teachers of
# different architectures on one label space (AMTML-KD, configs/amtml/).
_base_ = [
    '../_base_/models/offline_resnet18.py', '../_base_/datasets/offline_fashion.py',
    '../_base_/schedules/offline_cpu.py', '../_base_/default_runtime.py'
]
