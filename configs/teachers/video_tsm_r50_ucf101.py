# Stage-1 video teacher of the MLFD paper (supplementary, action
# recognition), also the dataset-specific baseline:
# TSM-R50 on UCF-101 split 1 (8 segments),
# initialised from Kinetics-400 and fine-tuned.
_base_ = [
    '../_base_/models/tsm_r50.py',
    '../_base_/datasets/ucf101.py',
    '../_base_/schedules/video_finetune_sgd.py',
    '../_base_/video_runtime.py',
]
model = dict(cls_head=dict(num_classes=101))
# A Kinetics-400 TSM-R50 (8 segments) checkpoint that the user supplies,
# e.g. from mmaction2's model zoo:
# tsm_imagenet-pretrained-r50_8xb16-1x1x8-50e_kinetics400-rgb.
# Nothing is downloaded. Its 400-way classifier does not fit and is left
# out (mmengine warns about the shape mismatch); every other weight loads.
load_from = 'checkpoints/tsm_r50_kinetics400.pth'
