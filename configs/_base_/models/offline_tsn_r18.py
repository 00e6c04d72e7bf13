# TSN with a narrow ResNet-18 (mmpretrain's ResNet at half width: 32-64-128-
# 256 channels) for the offline 32 px video clips. mmaction2's own ResNet
# has no width argument, so the backbone comes from mmpretrain through
# mmaction2's cross-scope backbone support; the model still loads with
# stock mmaction2 + mmpretrain. Per-frame features, average consensus.
model = dict(
    _scope_='mmaction',
    type='Recognizer2D',
    backbone=dict(type='mmpretrain.ResNet', depth=18, stem_channels=32,
                  base_channels=32, out_indices=(3, )),
    cls_head=dict(
        type='TSNHead',
        num_classes=10,
        in_channels=256,
        spatial_type='avg',
        consensus=dict(type='AvgConsensus', dim=1),
        dropout_ratio=0.3,
        init_std=0.01,
        average_clips='prob'),
    data_preprocessor=dict(
        type='ActionDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        format_shape='NCHW'))
