# SE-ResNeXt-26-D (32x4d) from timm, wrapped by mmpretrain's TIMMBackbone so
# that the checkpoint loads with stock mmpretrain + timm.
#
# features_only=True drops every timm module after the last requested index,
# so the classifier reads the deepest level (index 4 = layer4, stride 32):
# the stage-1 state dict is then the whole feature extractor and stays
# loadable when a frozen teacher later asks for out_indices=(2, 3, 4).
# Levels: 0 act1 (64 ch, /2), 1 layer1 (256, /4), 2 layer2 (512, /8),
# 3 layer3 (1024, /16), 4 layer4 (2048, /32).
model = dict(
    _scope_='mmpretrain',
    type='ImageClassifier',
    backbone=dict(
        type='TIMMBackbone',
        model_name='seresnext26d_32x4d',
        features_only=True,
        pretrained=False,
        out_indices=(4, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=2048,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5),
    ))
