# Second architecture set, stage 1: MobileNetV2 (half width) on offline
# fashion, 15 epochs; also the dataset-specific baseline.
_base_ = [
    '../_base_/models/offline_mobilenet_v2.py',
    '../_base_/datasets/offline_fashion.py',
    '../_base_/schedules/offline_cpu_15e.py', '../_base_/default_runtime.py'
]
