# TSM (Lin et al.) with ResNet-50, as mmaction2 builds it: a temporal shift
# of 1/8 of the channels in every residual block, 8 segments.
# pretrained=None and pretrained2d=False: the teacher configs start from a
# Kinetics-400 checkpoint given by load_from (ResNetTSM's default
# pretrained2d=True would try to inflate ImageNet weights and fails without
# them).
model = dict(
    _scope_='mmaction',
    type='Recognizer2D',
    backbone=dict(
        type='ResNetTSM',
        depth=50,
        num_segments=8,
        shift_div=8,
        pretrained=None,
        pretrained2d=False,
        norm_eval=False,
        out_indices=(3, )),
    cls_head=dict(
        type='TSMHead',
        num_classes=400,
        in_channels=2048,
        num_segments=8,
        spatial_type='avg',
        consensus=dict(type='AvgConsensus', dim=1),
        dropout_ratio=0.5,
        init_std=0.001,
        is_shift=True,
        average_clips='prob'),
    data_preprocessor=dict(
        type='ActionDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        format_shape='NCHW'))
