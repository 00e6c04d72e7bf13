# Offline fashion (Debian dataset-fashion-mnist), 32x32 RGB; mean/std of its training pool.
_base_ = ['./offline_common.py']
data_root = '{{fileDirname}}/../../../data/offline/fashion'
metainfo = dict(classes=('T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal',
                  'Shirt', 'Sneaker', 'Bag', 'Ankle boot'))
data_preprocessor = dict(
    num_classes=10, mean=[72.76, 72.76, 72.76], std=[86.22, 86.22, 86.22], to_rgb=False)
train_dataloader = dict(dataset=dict(data_root=data_root, metainfo=metainfo))
val_dataloader = dict(dataset=dict(data_root=data_root, metainfo=metainfo))
test_dataloader = dict(dataset=dict(data_root=data_root, metainfo=metainfo))
