# Second architecture set, stage 2 trained from the teachers' cached
# features (float16), as joint_offline_cached.py does for the offline set:
# no teacher runs during training or evaluation, and the cache holds each
# dataset's test view (no augmentation reaches the teachers). The cache
# option alone is enough: every loader is then read through the cache
# (mlfd_mm.config.wrap_cached_loaders). Build, train:
#   python tools/train.py configs/mlfd/joint_offline_arch2_cached.py --build-cache
_base_ = ['./joint_offline_arch2.py']
pipeline_dir = '{{fileDirname}}/../../work_dirs/offline_arch2_cached/seed0'
model = dict(feature_cache=dict(
    root='work_dirs/feature_cache/joint_offline_arch2_fp16', dtype='float16'))
