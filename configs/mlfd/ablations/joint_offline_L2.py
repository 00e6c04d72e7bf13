# Level ablation on the offline set: the joint teacher fuses feature set L2
# (the 2 deepest levels of every teacher); everything else is joint_offline
# (L3). Run with configs/pipelines/offline_levels_L2.py.
_base_ = ['../joint_offline.py']
model = dict(levels='L2')
