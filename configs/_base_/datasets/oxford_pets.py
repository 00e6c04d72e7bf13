# Oxford-IIIT Pets at 224 px (37 breeds), read by mmpretrain's OxfordIIITPet
# with the official trainval/test split (test is used for val and test):
#
#   data/Oxford-IIIT_Pets/
#   ├── images/Abyssinian_1.jpg ...
#   └── annotations/
#       ├── trainval.txt   one "<image name, no .jpg> <class 1..37> <species>
#       └── test.txt       <breed id>" line per image
_base_ = ['./paper_224_common.py']
dataset_type = 'OxfordIIITPet'
data_root = '{{$MLFD_DATA_ROOT:data}}/Oxford-IIIT_Pets'  # see cifar100.py
data_preprocessor = dict(num_classes=37)
train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, split='trainval'))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, split='test'))
test_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, split='test'))
