# TSN with a narrow ResNet-18 (mmpretrain's ResNet at half width: 32-64-128-
# 256 channels) for the offline 32 px video clips; otherwise tsn_r50.py.
# mmaction2's own ResNet has no width argument, so the backbone comes from
# mmpretrain through mmaction2's cross-scope backbone support; the model
# still loads with stock mmaction2 + mmpretrain. Per-frame features, average
# consensus.
_base_ = ['./tsn_r50.py']
model = dict(
    backbone=dict(_delete_=True, type='mmpretrain.ResNet', depth=18,
                  stem_channels=32, base_channels=32, out_indices=(3, )),
    cls_head=dict(num_classes=10, in_channels=256, dropout_ratio=0.3))
