# MLFD on one label space: the fashion TinyNet-E student distilled from the
# same-dataset joint teacher of the three fashion teachers
# (joint_fashion_same_dataset.py), to compare with AMTML-KD on the same
# teachers. As configs/mlfd/student_offline_fashion.py otherwise.
_base_ = ['../mlfd/student_offline_fashion.py']
# checkpoint='auto' without pipeline_dir: tools/train.py's run of the joint
# config (work_dirs/joint_fashion_same_dataset/best.pth), as the teachers'
pipeline_dir = None
model = dict(
    teacher=dict(config='{{fileDirname}}/joint_fashion_same_dataset.py',
                 checkpoint='auto'))
