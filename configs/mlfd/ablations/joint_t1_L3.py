# Level ablation of the paper (T1): the joint teacher fuses feature set L3,
# the 3 deepest levels of every teacher; everything else is joint_t1.
_base_ = ['../joint_t1.py']
model = dict(levels='L3')
