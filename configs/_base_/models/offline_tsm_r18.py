# TSM (temporal shift in every residual block) with mmaction2's ResNet-18
# for the offline 32 px video clips, 8 segments. mmaction2's ResNetTSM has
# no width argument (64-128-256-512 channels are fixed), so this one is full
# width; at 32 px it still trains in CPU minutes. num_segments must match
# the dataset's SampleFrames num_clips.
model = dict(
    _scope_='mmaction',
    type='Recognizer2D',
    backbone=dict(
        type='ResNetTSM',
        depth=18,
        num_segments=8,
        shift_div=8,
        # The default (True) inflates an ImageNet checkpoint and fails
        # without one; these teachers train from scratch.
        pretrained2d=False,
        norm_eval=False,
        out_indices=(3, )),
    cls_head=dict(
        type='TSMHead',
        num_classes=8,
        in_channels=512,
        num_segments=8,
        spatial_type='avg',
        consensus=dict(type='AvgConsensus', dim=1),
        dropout_ratio=0.3,
        init_std=0.01,
        is_shift=True,
        average_clips='prob'),
    data_preprocessor=dict(
        type='ActionDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        format_shape='NCHW'))
