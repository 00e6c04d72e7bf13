# TSN (Wang et al.) with ResNet-50, as mmaction2 builds it: per-frame
# ResNet-50, spatial average pooling, average consensus over the segments.
# pretrained=None: the teacher configs start from a Kinetics-400 checkpoint
# given by load_from, not from ImageNet weights fetched at build time.
model = dict(
    _scope_='mmaction',
    type='Recognizer2D',
    backbone=dict(type='ResNet', depth=50, pretrained=None, norm_eval=False,
                  out_indices=(3, )),
    cls_head=dict(
        type='TSNHead',
        num_classes=400,
        in_channels=2048,
        spatial_type='avg',
        consensus=dict(type='AvgConsensus', dim=1),
        dropout_ratio=0.4,
        init_std=0.01,
        average_clips='prob'),
    data_preprocessor=dict(
        type='ActionDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        format_shape='NCHW'))
