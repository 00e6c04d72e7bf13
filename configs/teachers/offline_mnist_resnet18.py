# Stage 1: dataset-specific teacher (and baseline) on offline mnist.
_base_ = [
    '../_base_/models/offline_resnet18.py', '../_base_/datasets/offline_mnist.py',
    '../_base_/schedules/offline_cpu.py', '../_base_/default_runtime.py'
]
