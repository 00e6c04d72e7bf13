# joint_offline_cached.py (float16) with every teacher's map pooled, at
# caching time, to the smallest map of its level: the size the fusion neck
# aligns the teachers to anyway (ConcatFusionNeck, align='min'). Online
# (uncached) samples get the same pooling inside the joint teacher.
#   python tools/cache_features.py configs/mlfd/joint_offline_cached_pooled.py
_base_ = ['./joint_offline_cached.py']
_cache_root = 'work_dirs/feature_cache/joint_offline_pooled'
model = dict(feature_cache=dict(root=_cache_root, pool='min'))
