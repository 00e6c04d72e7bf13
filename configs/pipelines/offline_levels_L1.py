# Level ablation (L1..L4) on the offline set: joint teacher at L1 and its
# students, which distil every fused level ('auto' pairs). The stage-1
# teachers are the runs of configs/pipelines/offline.py (its L3 row).
#   python tools/run_pipeline.py configs/pipelines/offline_levels_L1.py
_base_ = ['./offline.py']
name = 'offline_levels_L1'
stages_of = '{{fileDirname}}/offline.py'
_ablations = '{{fileDirname}}/../mlfd/ablations/'
joint_teacher = _ablations + 'joint_offline_L1.py'
students = dict(
    mnist=_ablations + 'student_offline_mnist_auto.py',
    fashion=_ablations + 'student_offline_fashion_auto.py',
    animals=_ablations + 'student_offline_animals_auto.py',
)
