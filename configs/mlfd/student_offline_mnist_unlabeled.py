# Ablation: the mnist student also distils features on the fashion and
# animals training images, without their labels (no CE nor KD on them).
# Each epoch still holds the 1000 mnist images of student_offline_mnist.py
# in as many steps (16), plus 500 images of each other dataset: batches of
# 128 hold 64 mnist images on average.
_base_ = ['./student_offline_mnist.py']
_datasets = dict(
    mnist='{{fileDirname}}/../teachers/offline_mnist_resnet18.py',
    fashion='{{fileDirname}}/../teachers/offline_fashion_tinynet.py',
    animals='{{fileDirname}}/../teachers/offline_animals_seresnext.py',
)
model = dict(feature_only_datasets=['fashion', 'animals'])
train_dataloader = dict(
    batch_size=128,
    sampler=dict(_delete_=True, type='MultiDatasetSampler', ratio=[2, 1, 1],
                 num_samples=2000),
    dataset=dict(
        _delete_=True,
        type='MultiDatasetWrapper',
        names=list(_datasets),
        datasets=[dict(config=c, split='train') for c in _datasets.values()]))
