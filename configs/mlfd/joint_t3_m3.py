# Supplementary Table 1 of the paper: T3 with m = 3 datasets, the first 3
# of joint_t3 (Caltech-101, Flowers-102 and CUB-200-2011); the rest is
# joint_t3.
_base_ = ['./joint_t3.py']
_teachers = dict(
    caltech101='configs/teachers/t3_resnet18_caltech101.py',
    flowers102='configs/teachers/t3_efficientnet_b0_flowers102.py',
    cub='configs/teachers/t3_seresnext26d_cub.py',
)
model = dict(
    teachers=[
        dict(name=name, config=config,
             checkpoint=config.replace('configs/teachers/', 'work_dirs/')[:-3]
             + '/best.pth') for name, config in _teachers.items()
    ])
train_dataloader = dict(dataset=dict(
    names=list(_teachers),
    datasets=[dict(config=c, split='train') for c in _teachers.values()]))
val_dataloader = dict(dataset=dict(
    names=list(_teachers),
    datasets=[dict(config=c, split='val') for c in _teachers.values()]))
test_dataloader = dict(dataset=dict(
    names=list(_teachers),
    datasets=[dict(config=c, split='test') for c in _teachers.values()]))
