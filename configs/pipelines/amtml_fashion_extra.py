# More baselines on the runs of configs/pipelines/amtml_fashion.py (same
# stage-1 teachers, reused from work_dirs/amtml_fashion): single-dataset KD
# from the student's own teacher and from a deeper one (the MLFD paper's
# supplementary Table 2), and AMTML-KD with equal teacher weights (the
# ablation of the adaptive weights).
#   python tools/run_pipeline.py configs/pipelines/amtml_fashion_extra.py
_base_ = ['./amtml_fashion.py']
name = 'amtml_fashion_extra'
stages_of = '{{fileDirname}}/amtml_fashion.py'
joint_teacher = None
students = dict(
    _delete_=True,
    kd_own='{{fileDirname}}/../baselines/kd_fashion_tinynet_own.py',
    kd_deeper='{{fileDirname}}/../baselines/kd_fashion_tinynet_deeper.py',
    equal='{{fileDirname}}/../amtml/amtml_fashion_tinynet_equal.py',
)
table = [
    ('TinyNet-E alone (stage 1)', 'teachers/tinynet'),
    ('SE-ResNeXt teacher', 'teachers/seresnext'),
    ('KD from its own teacher (TinyNet-E)', 'students/kd_own'),
    ('KD from a deeper teacher (SE-ResNeXt)', 'students/kd_deeper'),
    ('AMTML-KD, equal weights', 'students/equal'),
]
