# joint_offline_cached.py with a float32 cache (twice the bytes of the
# float16 default): the reference for the accuracy cost of float16.
#   python tools/cache_features.py configs/mlfd/joint_offline_cached_fp32.py
_base_ = ['./joint_offline_cached.py']
_cache_root = 'work_dirs/feature_cache/joint_offline_fp32'
model = dict(feature_cache=dict(root=_cache_root, dtype='float32'))
