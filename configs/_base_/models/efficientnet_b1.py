# EfficientNet-B1 classifier (stock mmpretrain types: the checkpoint loads
# without mlfd_mm). Index 6 is the final 1x1 conv stage (1280 channels).
# num_classes is set by each teacher config.
model = dict(
    _scope_='mmpretrain',
    type='ImageClassifier',
    backbone=dict(type='EfficientNet', arch='b1', out_indices=(6, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=1280,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5),
    ))
