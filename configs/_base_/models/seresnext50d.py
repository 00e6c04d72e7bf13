# SE-ResNeXt-50-D (32x4d), wrapped by mmpretrain's TIMMBackbone so that the
# checkpoint loads with stock mmpretrain + timm.
#
# timm 1.0 registers no 'seresnext50d_32x4d'; its 'resnext50d_32x4d' (deep
# stem + avg-pool downsample, layers 3-4-6-3) plus SE attention in every
# block is exactly that network, the same recipe timm uses for
# 'seresnext26d_32x4d' with layers 2-2-2-2.
#
# features_only=True drops every timm module after the last requested index,
# so the classifier reads the deepest level (index 4 = layer4, stride 32):
# the stage-1 state dict is then the whole feature extractor and stays
# loadable when a frozen teacher later asks for out_indices=(2, 3, 4).
model = dict(
    _scope_='mmpretrain',
    type='ImageClassifier',
    backbone=dict(
        type='TIMMBackbone',
        model_name='resnext50d_32x4d',
        block_args=dict(attn_layer='se'),
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
