# ShuffleNetV2 family, width 1.0 (mmpretrain's stock ShuffleNetV2, strides
# as for 224 px). At 32 px its stages end at 4, 2 and 1 px and the final 1x1
# conv (out_indices 3, 1024 channels) at 1 px: L3 is stages 0, 1 and 3.
model = dict(
    type='ImageClassifier',
    backbone=dict(type='ShuffleNetV2', widen_factor=1.0, out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=10, in_channels=1024,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
              topk=(1, 5)))
