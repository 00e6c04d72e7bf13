# Stage 1: dataset-specific teacher (and baseline) on the offline video set
# "motion" (synthetic motion over real frames): TSM ResNet-18, 8 segments.
_base_ = [
    '../_base_/models/offline_tsm_r18.py',
    '../_base_/datasets/offline_video_motion.py',
    '../_base_/schedules/offline_video_cpu.py',
    '../_base_/video_runtime.py',
]
model = dict(cls_head=dict(num_classes=6))
