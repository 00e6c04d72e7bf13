# Second architecture set, stage 1: ShuffleNetV2 (width 1.0) on offline
# digits (scikit-learn's UCI digits), 15 epochs; also the dataset-specific
# baseline.
_base_ = [
    '../_base_/models/offline_shufflenet_v2.py',
    '../_base_/datasets/offline_digits.py',
    '../_base_/schedules/offline_cpu_15e.py', '../_base_/default_runtime.py'
]
