# The three stage-1 fashion models of different architectures, named once:
# the teachers of AMTML-KD (configs/amtml/amtml_fashion_tinynet.py) and of
# the same-dataset joint teacher (configs/amtml/joint_fashion_same_dataset.py).
# A config that inherits this sets `model = dict(teachers=_base_.
# _fashion_teachers)`. checkpoint='auto': see mlfd_mm.config.auto_checkpoint.
_fashion_teachers = [
    dict(name='resnet18', checkpoint='auto',
         config='{{fileDirname}}/../../teachers/offline_fashion_resnet18.py'),
    dict(name='tinynet', checkpoint='auto',
         config='{{fileDirname}}/../../teachers/offline_fashion_tinynet.py'),
    dict(name='seresnext', checkpoint='auto',
         config='{{fileDirname}}/../../teachers/offline_fashion_seresnext.py'),
]
# The same three with the ResNet-18 trained 40 epochs (it underfits in 20):
# the teachers of the quarter-width student (configs/pipelines/
# amtml_fashion_w4.py, issue #15) when its configs run on their own.
_fashion_teachers_w4 = [
    dict(_fashion_teachers[0],
         config='{{fileDirname}}/../../teachers/'
         'offline_fashion_resnet18_40e.py'),
] + _fashion_teachers[1:]
