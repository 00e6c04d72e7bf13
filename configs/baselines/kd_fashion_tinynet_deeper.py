# Single-dataset KD from a deeper teacher (supplementary Table 2): as
# kd_fashion_tinynet_own.py, taught by the fashion SE-ResNeXt instead.
_base_ = ['./kd_fashion_tinynet_own.py']
model = dict(teachers=[
    dict(name='seresnext', checkpoint='auto',
         config='{{fileDirname}}/../teachers/offline_fashion_seresnext.py')
])
