# EfficientNet family: timm's TinyNet-E (EfficientNet-B0 scaled down), through
# mmpretrain's stock TIMMBackbone. The deepest feature level feeds the head,
# so the checkpoint stays loadable when more levels are requested.
model = dict(
    type='ImageClassifier',
    backbone=dict(type='TIMMBackbone', model_name='tinynet_e',
                  features_only=True, pretrained=False, out_indices=(4, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=10, in_channels=160,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
              topk=(1, 5)))
