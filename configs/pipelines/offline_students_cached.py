# The offline pipeline's students trained from the joint-output cache of the
# offline pipeline's own (online) joint teacher: the same stage 1 and 2 runs
# (`stages_of`), so the cached students differ from the online ones only in
# what the cache gives up (the teacher's outputs are those of the
# un-augmented test view; the student trains on its augmented view).
#   python tools/run_pipeline.py configs/pipelines/offline_students_cached.py \
#       --seeds 0 1 2
name = 'offline_students_cached'
stages_of = '{{fileDirname}}/offline.py'
teachers = dict(
    mnist='{{fileDirname}}/../teachers/offline_mnist_resnet18.py',
    fashion='{{fileDirname}}/../teachers/offline_fashion_tinynet.py',
    animals='{{fileDirname}}/../teachers/offline_animals_seresnext.py',
)
joint_teacher = '{{fileDirname}}/../mlfd/joint_offline.py'
students = dict(
    mnist='{{fileDirname}}/../mlfd/student_offline_mnist_cached.py',
    fashion='{{fileDirname}}/../mlfd/student_offline_fashion_cached.py',
    animals='{{fileDirname}}/../mlfd/student_offline_animals_cached.py',
)
