# The MLFD counterpart of AMTML-KD on one label space (the paper's
# same-dataset ablation, supplementary Table 4): the three fashion teachers
# of configs/amtml/amtml_fashion_tinynet.py, frozen and fused at their three
# deepest levels, one head (fashion). checkpoint='auto': the best of each
# teacher's stage-1 run (mlfd_mm.config.auto_checkpoint);
# tools/run_pipeline.py fills in the checkpoints of its own run.
_base_ = [
    '../_base_/models/joint_teacher.py',
    '../_base_/schedules/offline_joint_cpu.py',
    '../_base_/default_runtime.py',
    '../_base_/teachers/offline_fashion_three.py',
]
model = dict(
    dataset_names=['fashion'],
    num_classes=[10],
    teachers=_base_._fashion_teachers)
# The loaders' one dataset (not one per teacher)
joint_datasets = dict(
    fashion='{{fileDirname}}/../teachers/offline_fashion_tinynet.py')
