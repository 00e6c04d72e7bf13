# MobileNetV2 family, half width (mmpretrain's stock MobileNetV2, strides as
# for 224 px). At 32 px its stages end at 16, 8, 4, 2, 2, 1, 1 px and the
# final 1x1 conv (out_indices 7, 1280 channels) at 1 px: the levels a joint
# teacher or distill='auto' sees are the deepest stage of each resolution
# (L3: stages 2, 4 and 7 at 4, 2 and 1 px).
model = dict(
    type='ImageClassifier',
    backbone=dict(type='MobileNetV2', widen_factor=0.5, out_indices=(7, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=10, in_channels=1280,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
              topk=(1, 5)))
