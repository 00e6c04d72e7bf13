# Stage 2: the joint teacher. A config that inherits this names each teacher
# once in model.teachers (name, config, checkpoint); the three dataloaders'
# `names` and `datasets` follow from the teachers (or from `joint_datasets`),
# filled in by mlfd_mm.config.complete_joint_loaders; see
# configs/mlfd/joint_offline.py.
model = dict(
    type='JointTeacher',
    teachers=[],
    levels='L3',
    fusion=dict(type='ConcatFusionNeck', width=128, dropout=0.1),
    head=dict(type='MultiDatasetClsHead', dropout=0.2, label_smoothing=0.1),
    # raw 0..255 pixels: every frozen teacher applies its own mean/std
    data_preprocessor=dict(type='ClsDataPreprocessor'),
)

_loader = dict(num_workers=1, persistent_workers=True)
train_dataloader = dict(
    batch_size=64, **_loader,
    sampler=dict(type='MultiDatasetSampler', ratio='uniform', shuffle=True),
    dataset=dict(type='MultiDatasetWrapper', names=[], datasets=[]))
val_dataloader = dict(
    batch_size=256, **_loader,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='MultiDatasetWrapper', names=[], datasets=[]))
test_dataloader = val_dataloader
val_evaluator = dict(type='MultiDatasetMetric', topk=(1, 5))
test_evaluator = val_evaluator
