# CUB-200-2011 at 224 px (whole images, boxes unused), read by mmpretrain's
# CUB with the official train/test split (test is used for val and test):
#
#   data/CUB_200_2011/
#   ├── images/001.Black_footed_Albatross/*.jpg ...
#   ├── images.txt               "<id> <class folder>/<file>"
#   ├── image_class_labels.txt   "<id> <class 1..200>"
#   └── train_test_split.txt     "<id> <1 train | 0 test>"
_base_ = ['./paper_224_common.py']
dataset_type = 'CUB'
data_root = '{{$MLFD_DATA_ROOT:data}}/CUB_200_2011'  # see cifar100.py
data_preprocessor = dict(num_classes=200)
train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, split='train'))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, split='test'))
test_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, split='test'))
