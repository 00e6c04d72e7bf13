# Stage 1: dataset-specific teacher (and baseline) on offline animals.
_base_ = [
    '../_base_/models/offline_seresnext.py', '../_base_/datasets/offline_animals.py',
    '../_base_/schedules/offline_cpu.py', '../_base_/default_runtime.py'
]
