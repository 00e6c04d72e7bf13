# SEResNeXt family, narrow (base width 16, 8 groups of 4).
model = dict(
    type='ImageClassifier',
    backbone=dict(type='SEResNeXt', depth=50, stem_channels=16,
                  base_channels=16, groups=8, width_per_group=4,
                  out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=10, in_channels=512,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
              topk=(1, 5)))
