# The MLFD counterpart of AMTML-KD on one label space (the paper's
# same-dataset ablation, supplementary Table 4): the three fashion teachers
# of configs/amtml/amtml_fashion_tinynet.py, frozen and fused at their three
# deepest levels, one head (fashion). tools/run_pipeline.py fills in the
# checkpoints of the run; by hand, point them at your stage-1 runs.
_base_ = [
    '../_base_/models/joint_teacher.py',
    '../_base_/schedules/offline_joint_cpu.py',
    '../_base_/default_runtime.py'
]
_teachers = dict(
    resnet18='configs/teachers/offline_fashion_resnet18.py',
    tinynet='configs/teachers/offline_fashion_tinynet.py',
    seresnext='configs/teachers/offline_fashion_seresnext.py',
)
_dataset = 'configs/teachers/offline_fashion_tinynet.py'
model = dict(
    dataset_names=['fashion'],
    num_classes=[10],
    teachers=[
        dict(name=name, config=config,
             checkpoint=config.replace('configs/teachers/', 'work_dirs/')[:-3]
             + '/best.pth') for name, config in _teachers.items()
    ])
train_dataloader = dict(dataset=dict(
    names=['fashion'], datasets=[dict(config=_dataset, split='train')]))
val_dataloader = dict(dataset=dict(
    names=['fashion'], datasets=[dict(config=_dataset, split='val')]))
test_dataloader = dict(dataset=dict(
    names=['fashion'], datasets=[dict(config=_dataset, split='test')]))
