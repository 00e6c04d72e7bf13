# Level ablation on the offline set: the joint teacher fuses feature set L4
# (the 4 deepest levels of every teacher); everything else is joint_offline
# (L3). Run with configs/pipelines/offline_levels_L4.py.
_base_ = ['../joint_offline.py']
model = dict(levels='L4')
