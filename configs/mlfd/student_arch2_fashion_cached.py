# Second architecture set, the fashion student trained from its joint teacher's
# cached outputs (float16), as student_offline_fashion_cached.py does for the
# offline set (the joint teacher is neither built nor run). Build, train:
#   python tools/train.py configs/mlfd/student_arch2_fashion_cached.py --build-cache
_base_ = ['./student_arch2_fashion.py']
pipeline_dir = '{{fileDirname}}/../../work_dirs/offline_arch2_cached/seed0'
_cache_root = 'work_dirs/joint_output_cache/student_arch2_fashion_fp16'
model = dict(joint_output_cache=dict(root=_cache_root, dtype='float16'),
             connector=dict(shrink_first=True))
train_dataloader = dict(dataset=dict(
    _delete_=True, type='CachedFeatureDataset', root=_cache_root,
    split='train', dataset_name='fashion',
    dataset={{_base_.train_dataloader.dataset}}))
val_dataloader = dict(dataset=dict(
    _delete_=True, type='CachedFeatureDataset', root=_cache_root,
    split='val', dataset_name='fashion',
    dataset={{_base_.val_dataloader.dataset}}))
test_dataloader = dict(dataset=dict(
    _delete_=True, type='CachedFeatureDataset', root=_cache_root,
    split='test', dataset_name='fashion',
    dataset={{_base_.test_dataloader.dataset}}))
