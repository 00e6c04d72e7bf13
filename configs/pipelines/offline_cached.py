# The offline pipeline (configs/pipelines/offline.py) with caches in stages
# 2 and 3: the joint teacher trains from its teachers' cached features and
# each student from its joint teacher's cached outputs, so no frozen model
# runs during training. Each stage builds the cache it needs first, in its
# own directory (<work_dir>/seed<k>/<stage>/cache; the time counts in the
# stage and is reported apart in stage_times.md):
#   python tools/run_pipeline.py configs/pipelines/offline_cached.py
# The joint teacher trains 10 epochs, as in offline.py; offline_cached_short.py
# gives it the paper's budget (4 epochs, 1/5 of a teacher's 20), which cost
# the fashion student 2.25 points at seed 0 (README, "The cached pipeline").
# Stage 1 is the offline pipeline's own (the same teacher configs); add
# `stages_of = '{{fileDirname}}/offline.py'` to reuse its finished runs.
name = 'offline_cached'
teachers = dict(
    mnist='{{fileDirname}}/../teachers/offline_mnist_resnet18.py',
    fashion='{{fileDirname}}/../teachers/offline_fashion_tinynet.py',
    animals='{{fileDirname}}/../teachers/offline_animals_seresnext.py',
)
joint_teacher = '{{fileDirname}}/../mlfd/joint_offline_cached.py'
students = dict(
    mnist='{{fileDirname}}/../mlfd/student_offline_mnist_cached.py',
    fashion='{{fileDirname}}/../mlfd/student_offline_fashion_cached.py',
    animals='{{fileDirname}}/../mlfd/student_offline_animals_cached.py',
)
