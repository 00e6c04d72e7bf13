# MLFD into the quarter-width ResNet-18 from the same-dataset joint teacher
# of the three fashion teachers (joint_fashion_same_dataset.py), with
# MLFD's own loss (0.6 KD at T = 2, 0.2 feature MSE, CE 1.0).
_base_ = ['./mlfd_fashion_tinynet.py']
model = dict(
    student='{{fileDirname}}/../teachers/offline_fashion_resnet18_w4.py',
    teacher=dict(config='{{fileDirname}}/joint_fashion_same_dataset_w4.py'),
    # (student stage, joint level): 16 / 8 / 4 px
    distill=[(1, 'l1'), (2, 'l2'), (3, 'l3')])
