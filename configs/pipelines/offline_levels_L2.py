# Level ablation (L1..L4) on the offline set: joint teacher at L2 and its
# students, which distil every fused level ('auto' pairs). The stage-1
# teachers are the runs of configs/pipelines/offline.py (its L3 row).
#   python tools/run_pipeline.py configs/pipelines/offline_levels_L2.py
_base_ = ['./offline.py']
name = 'offline_levels_L2'
stages_of = '{{fileDirname}}/offline.py'
joint_teacher = '{{fileDirname}}/../mlfd/ablations/joint_offline_L2.py'
students = dict(
    mnist='{{fileDirname}}/../mlfd/ablations/student_offline_mnist_auto.py',
    fashion='{{fileDirname}}/../mlfd/ablations/student_offline_fashion_auto.py',
    animals='{{fileDirname}}/../mlfd/ablations/student_offline_animals_auto.py',
)
