# Stage 2 on the offline set trained from the teachers' cached features
# (float16): no teacher runs during training or evaluation. The cache holds
# the features of each dataset's test pipeline (no augmentation reaches the
# teachers). Build it first, then train and test as usual:
#   python tools/cache_features.py configs/mlfd/joint_offline_cached.py
#   python tools/train.py configs/mlfd/joint_offline_cached.py
_base_ = ['./joint_offline.py']
_cache_root = 'work_dirs/feature_cache/joint_offline_fp16'
model = dict(feature_cache=dict(root=_cache_root, dtype='float16'))
# Every loader's samples carry their cached features.
train_dataloader = dict(dataset=dict(
    _delete_=True, type='CachedFeatureDataset', root=_cache_root,
    split='train', dataset={{_base_.train_dataloader.dataset}}))
val_dataloader = dict(dataset=dict(
    _delete_=True, type='CachedFeatureDataset', root=_cache_root,
    split='val', dataset={{_base_.val_dataloader.dataset}}))
test_dataloader = dict(dataset=dict(
    _delete_=True, type='CachedFeatureDataset', root=_cache_root,
    split='test', dataset={{_base_.test_dataloader.dataset}}))
