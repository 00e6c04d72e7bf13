# The main job (`make demo`): MLFD on the offline real datasets.
name = 'offline'
teachers = dict(
    mnist='{{fileDirname}}/../teachers/offline_mnist_resnet18.py',
    fashion='{{fileDirname}}/../teachers/offline_fashion_tinynet.py',
    animals='{{fileDirname}}/../teachers/offline_animals_seresnext.py',
)
joint_teacher = '{{fileDirname}}/../mlfd/joint_offline.py'
students = dict(
    mnist='{{fileDirname}}/../mlfd/student_offline_mnist.py',
    fashion='{{fileDirname}}/../mlfd/student_offline_fashion.py',
    animals='{{fileDirname}}/../mlfd/student_offline_animals.py',
)
