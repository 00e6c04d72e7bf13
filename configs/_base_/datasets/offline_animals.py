# Offline animals (PyPI animal-mnist), 32x32 RGB; mean/std of its training pool.
_base_ = ['./offline_common.py']
data_root = '{{fileDirname}}/../../../data/offline/animals'
metainfo = dict(classes=('bear', 'bird', 'cat', 'cow', 'dog', 'elephant', 'giraffe',
                  'horse', 'sheep', 'zebra'))
data_preprocessor = dict(
    num_classes=10, mean=[69.66, 69.66, 69.66], std=[99.45, 99.45, 99.45], to_rgb=False)
train_dataloader = dict(dataset=dict(data_root=data_root, metainfo=metainfo))
val_dataloader = dict(dataset=dict(data_root=data_root, metainfo=metainfo))
test_dataloader = dict(dataset=dict(data_root=data_root, metainfo=metainfo))
