# Caltech-101 at 224 px, read by mmpretrain's Caltech101. Its class list has
# 102 entries: the 101 object classes plus BACKGROUND_Google (kept, as
# mmpretrain does). There is no official split; mmpretrain's meta files
# (caltech_meta.zip of OpenMMLab) or your own in the same format:
#
#   data/caltech-101/
#   ├── 101_ObjectCategories/
#   │   ├── accordion/image_0001.jpg ...
#   │   └── ...
#   └── meta/
#       ├── train.txt     one "<class folder>/<file> <class index>" line per
#       └── test.txt      image (used for val and test)
_base_ = ['./paper_224_common.py']
dataset_type = 'Caltech101'
data_root = '{{$MLFD_DATA_ROOT:data}}/caltech-101'  # see cifar100.py
data_preprocessor = dict(num_classes=102)
train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, split='train'))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, split='test'))
test_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, split='test'))
