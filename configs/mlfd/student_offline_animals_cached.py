# The animals student of the offline set trained from its joint teacher's
# cached outputs (float16): the joint teacher is neither built nor run. The
# cache holds the joint teacher's fused features at the distilled levels and
# its animals logits for the deterministic test view of each image, while the
# student trains on its augmented view (see README, "Students from the
# joint-output cache"). Build it, then train and test as usual:
#   python tools/cache_features.py configs/mlfd/student_offline_animals_cached.py
#   python tools/train.py configs/mlfd/student_offline_animals_cached.py
# (tools/run_pipeline.py configs/pipelines/offline_cached.py does both, with
# the cache in the stage's directory.) The cache option is enough: the
# training loader then reads the cache under the student's dataset name
# (mlfd_mm.config.wrap_cached_loaders); validation and test run the student
# alone, so the cache holds the training split (add splits=['train', 'val',
# 'test'] for DistillDiagnosticsHook).
_base_ = ['./student_offline_animals.py']
_cache_root = 'work_dirs/joint_output_cache/student_offline_animals_fp16'
# Connectors pool the student map to the joint level's size before their
# 1x1 conv + BN (not after): the step then costs 1.05x the plain one
# instead of 1.30x (tools/benchmark.py, README).
model = dict(joint_output_cache=dict(root=_cache_root, dtype='float16'),
             connector=dict(shrink_first=True))
