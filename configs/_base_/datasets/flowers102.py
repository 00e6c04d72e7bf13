# Oxford Flowers-102 at 224 px, read by mmpretrain's Flowers102 with the
# official splits: train (1,020), val (1,020), test (6,149):
#
#   data/flowers102/
#   ├── jpg/image_00001.jpg ...
#   ├── imagelabels.mat   labels 1..102, one per image number
#   └── setid.mat         trnid / valid / tstid: 1-based image numbers
_base_ = ['./paper_224_common.py']
dataset_type = 'Flowers102'
data_root = '{{$MLFD_DATA_ROOT:data}}/flowers102'  # see cifar100.py
data_preprocessor = dict(num_classes=102)
train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, split='train'))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, split='val'))
test_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, split='test'))
