# student_offline_animals_cached.py with a float32 joint-output cache (to
# measure what float16 storage costs in accuracy; see README).
_base_ = ['./student_offline_animals_cached.py']
_cache_root = 'work_dirs/joint_output_cache/student_offline_animals_fp32'
model = dict(joint_output_cache=dict(root=_cache_root, dtype='float32'))
