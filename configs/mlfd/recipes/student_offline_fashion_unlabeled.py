# Recipe variant (issue #14): the fashion student also distils features on
# the mnist and animals training images, without their labels (no CE nor KD
# on them): each epoch holds the 1000 fashion images in as many steps (16),
# plus 500 images of each other dataset (batches of 128, 64 fashion images
# on average), so a step costs about twice a plain one.
_base_ = ['./student_offline_fashion_diag.py']
_datasets = dict(
    fashion='{{fileDirname}}/../../teachers/offline_fashion_tinynet.py',
    mnist='{{fileDirname}}/../../teachers/offline_mnist_resnet18.py',
    animals='{{fileDirname}}/../../teachers/offline_animals_seresnext.py',
)
model = dict(feature_only_datasets=['mnist', 'animals'])
train_dataloader = dict(
    batch_size=128,
    sampler=dict(_delete_=True, type='MultiDatasetSampler', ratio=[2, 1, 1],
                 num_samples=2000),
    dataset=dict(
        _delete_=True,
        type='MultiDatasetWrapper',
        names=list(_datasets),
        datasets=[dict(config=c, split='train') for c in _datasets.values()]))
