# Stage 2 on the offline set: the three stage-1 teachers, frozen, fused at
# their three deepest levels, one head per dataset. Each teacher is named
# once (name, config, checkpoint); the loaders take each teacher's own
# datasets (mlfd_mm.config.complete_joint_loaders). checkpoint='auto': the
# best checkpoint of that teacher's stage-1 run in `pipeline_dir`, by
# default the seed-0 run of `make demo` (configs/pipelines/offline.py);
# tools/run_pipeline.py fills in the checkpoints of its own run.
_base_ = [
    '../_base_/models/joint_teacher.py',
    '../_base_/schedules/offline_joint_cpu.py',
    '../_base_/default_runtime.py'
]
pipeline_dir = '{{fileDirname}}/../../work_dirs/offline/seed0'
_teacher_dir = '{{fileDirname}}/../teachers/'
model = dict(teachers=[
    dict(name='mnist', checkpoint='auto',
         config=_teacher_dir + 'offline_mnist_resnet18.py'),
    dict(name='fashion', checkpoint='auto',
         config=_teacher_dir + 'offline_fashion_tinynet.py'),
    dict(name='animals', checkpoint='auto',
         config=_teacher_dir + 'offline_animals_seresnext.py'),
])
