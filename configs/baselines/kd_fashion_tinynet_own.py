# Single-dataset KD (the paper's supplementary Table 2): the fashion TinyNet-E
# student taught by its own dataset-specific teacher alone, through soft
# targets weighted as in the MLFD students (0.6 KD at T = 2, 1.0 CE), with
# no feature terms. AMTMLDistiller with one teacher, equal weights and no
# hints is plain KD. tools/run_pipeline.py fills in the teacher's run
# (configs/pipelines/amtml_fashion.py).
_base_ = ['../amtml/amtml_fashion_tinynet.py']
model = dict(
    teachers=[dict(name='tinynet', checkpoint='auto',
                   config='{{fileDirname}}/../teachers/'
                   'offline_fashion_tinynet.py')],
    hints=dict(_delete_=True),
    adaptive=False,
    temperature=2.0,
    kd_reduction='batchmean',  # KDLoss's, as the MLFD students
    loss_weights=dict(kd=0.6, ce=1.0, rkd=0., hint=0., latent_l2=0.),
)
