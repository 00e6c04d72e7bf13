# Stage 2 on the offline set trained from the teachers' cached features
# (float16): no teacher runs during training or evaluation. The cache holds
# the features of each dataset's test pipeline (no augmentation reaches the
# teachers). Build it first, then train and test as usual:
#   python tools/cache_features.py configs/mlfd/joint_offline_cached.py
#   python tools/train.py configs/mlfd/joint_offline_cached.py
_base_ = ['./joint_offline.py']
_cache_root = 'work_dirs/feature_cache/joint_offline_fp16'
# The cache option is enough: every loader's samples then carry their cached
# features (mlfd_mm.config.wrap_cached_loaders).
model = dict(feature_cache=dict(root=_cache_root, dtype='float16'))
