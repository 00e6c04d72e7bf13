# The main job (`make demo`): MLFD on the offline real datasets.
name = 'offline'
teachers = dict(
    mnist='configs/teachers/offline_mnist_resnet18.py',
    fashion='configs/teachers/offline_fashion_tinynet.py',
    animals='configs/teachers/offline_animals_seresnext.py',
)
joint_teacher = 'configs/mlfd/joint_offline.py'
students = dict(
    mnist='configs/mlfd/student_offline_mnist.py',
    fashion='configs/mlfd/student_offline_fashion.py',
    animals='configs/mlfd/student_offline_animals.py',
)
