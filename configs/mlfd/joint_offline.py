# Stage 2 on the offline set: the three stage-1 teachers, frozen, fused at
# their three deepest levels, one head per dataset. The datasets are those of
# the teachers' own configs. tools/run_pipeline.py fills in the checkpoints of
# the run; by hand, point them at your stage-1 runs.
_base_ = [
    '../_base_/models/joint_teacher.py',
    '../_base_/schedules/offline_joint_cpu.py',
    '../_base_/default_runtime.py'
]
_teachers = dict(
    mnist='configs/teachers/offline_mnist_resnet18.py',
    fashion='configs/teachers/offline_fashion_tinynet.py',
    animals='configs/teachers/offline_animals_seresnext.py',
)
model = dict(teachers=[
    # tools/train.py links each run's best checkpoint as best.pth
    dict(name=name, config=config,
         checkpoint=config.replace('configs/teachers/', 'work_dirs/')[:-3] +
         '/best.pth')
    for name, config in _teachers.items()
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
