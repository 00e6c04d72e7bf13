# Stage-1 video teacher of the MLFD paper (supplementary, action
# recognition), also the dataset-specific baseline:
# TSN-R50 on ActivityNet v1.3 (8 segments),
# initialised from Kinetics-400 and fine-tuned.
_base_ = [
    '../_base_/models/tsn_r50.py',
    '../_base_/datasets/activitynet.py',
    '../_base_/schedules/video_finetune_sgd.py',
    '../_base_/video_runtime.py',
]
model = dict(cls_head=dict(num_classes=200))
# A Kinetics-400 TSN-R50 (8 segments) checkpoint that the user supplies,
# e.g. from mmaction2's model zoo:
# tsn_imagenet-pretrained-r50_8xb32-1x1x8-100e_kinetics400-rgb.
# Nothing is downloaded. Its 400-way classifier does not fit and is left
# out (mmengine warns about the shape mismatch); every other weight loads.
load_from = 'checkpoints/tsn_r50_kinetics400.pth'
