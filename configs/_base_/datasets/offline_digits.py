# Offline digits (scikit-learn load_digits), 32x32 RGB; mean/std of its training pool.
_base_ = ['./offline_common.py']
data_root = '{{fileDirname}}/../../../data/offline/digits'
metainfo = dict(classes=tuple(str(i) for i in range(10)))
data_preprocessor = dict(
    num_classes=10, mean=[77.86, 77.86, 77.86], std=[82.47, 82.47, 82.47], to_rgb=False)
train_dataloader = dict(dataset=dict(data_root=data_root, metainfo=metainfo))
val_dataloader = dict(dataset=dict(data_root=data_root, metainfo=metainfo))
test_dataloader = dict(dataset=dict(data_root=data_root, metainfo=metainfo))
