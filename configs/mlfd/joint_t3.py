# Stage 2 of the paper's set T3 (m = 4 datasets): ResNet-18 (Caltech-101),
# EfficientNet-B0 (Flowers-102), SE-ResNeXt-26-D (CUB-200-2011) and
# ResNet-18 (Oxford-IIIT Pets), frozen, fused at their three deepest levels.
# joint_t3_m2.py / joint_t3_m3.py keep the first 2 / 3 of these datasets
# (supplementary Table 1). As joint_t1 otherwise.
_base_ = ['./joint_t1.py']
_teacher_dir = '{{fileDirname}}/../teachers/'
model = dict(teachers=[
    dict(name='caltech101', checkpoint='auto',
         config=_teacher_dir + 't3_resnet18_caltech101.py'),
    dict(name='flowers102', checkpoint='auto',
         config=_teacher_dir + 't3_efficientnet_b0_flowers102.py'),
    dict(name='cub', checkpoint='auto',
         config=_teacher_dir + 't3_seresnext26d_cub.py'),
    dict(name='oxford_pets', checkpoint='auto',
         config=_teacher_dir + 't3_resnet18_oxford_pets.py'),
])
# The budget of joint_t1.py for m = 4 datasets: 40 / m epochs.
train_cfg = dict(max_epochs=10)
