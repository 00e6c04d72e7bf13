# Stage 1: dataset-specific teacher (and baseline) on offline fashion.
_base_ = [
    '../_base_/models/offline_tinynet.py', '../_base_/datasets/offline_fashion.py',
    '../_base_/schedules/offline_cpu.py', '../_base_/default_runtime.py'
]
