# Second architecture set, the fashion student trained from its joint teacher's
# cached outputs (float16), as the offline set's _cached students do (the
# joint teacher is neither built nor run). The cache option alone is
# enough: the training loader is then read through the cache under the
# student's dataset name (mlfd_mm.config.wrap_cached_loaders); validation
# and test run the student alone. Build, train:
#   python tools/train.py configs/mlfd/student_arch2_fashion_cached.py --build-cache
_base_ = ['./student_arch2_fashion.py']
pipeline_dir = '{{fileDirname}}/../../work_dirs/offline_arch2_cached/seed0'
model = dict(
    joint_output_cache=dict(
        root='work_dirs/joint_output_cache/student_arch2_fashion_fp16',
        dtype='float16'),
    connector=dict(shrink_first=True))
