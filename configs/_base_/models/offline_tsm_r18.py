# TSM (temporal shift in every residual block) with mmaction2's ResNet-18
# for the offline 32 px video clips, 8 segments: tsm_r50.py at depth 18,
# trained from scratch. mmaction2's ResNetTSM has no width argument
# (64-128-256-512 channels are fixed), so this one is full width; at 32 px
# it still trains in CPU minutes. num_segments must match the dataset's
# SampleFrames num_clips.
_base_ = ['./tsm_r50.py']
model = dict(
    backbone=dict(depth=18),
    cls_head=dict(num_classes=8, in_channels=512, dropout_ratio=0.3,
                  init_std=0.01))
