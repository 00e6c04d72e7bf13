# Second architecture set, stage 2 trained from the teachers' cached
# features (float16), as joint_offline_cached.py does for the offline set:
# no teacher runs during training or evaluation, and the cache holds each
# dataset's test view (no augmentation reaches the teachers). Build, train:
#   python tools/train.py configs/mlfd/joint_offline_arch2_cached.py --build-cache
_base_ = ['./joint_offline_arch2.py']
pipeline_dir = '{{fileDirname}}/../../work_dirs/offline_arch2_cached/seed0'
_cache_root = 'work_dirs/feature_cache/joint_offline_arch2_fp16'
model = dict(feature_cache=dict(root=_cache_root, dtype='float16'))
train_dataloader = dict(dataset=dict(
    _delete_=True, type='CachedFeatureDataset', root=_cache_root,
    split='train', dataset={{_base_.train_dataloader.dataset}}))
val_dataloader = dict(dataset=dict(
    _delete_=True, type='CachedFeatureDataset', root=_cache_root,
    split='val', dataset={{_base_.val_dataloader.dataset}}))
test_dataloader = dict(dataset=dict(
    _delete_=True, type='CachedFeatureDataset', root=_cache_root,
    split='test', dataset={{_base_.test_dataloader.dataset}}))
