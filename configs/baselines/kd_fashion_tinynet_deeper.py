# Single-dataset KD from a deeper teacher (supplementary Table 2): as
# kd_fashion_tinynet_own.py, taught by the fashion SE-ResNeXt instead.
_base_ = ['./kd_fashion_tinynet_own.py']
_config = 'configs/teachers/offline_fashion_seresnext.py'
model = dict(teachers=[
    dict(name='seresnext', config=_config,
         checkpoint='work_dirs/offline_fashion_seresnext/best.pth')
])
