# TinyImageNet (200 classes, 64x64 images) at 224 px, read by mmpretrain's
# CustomDataset:
#
#   data/tiny-imagenet-200/           (the official zip, plus one file)
#   ├── train/                        class-folder layout: the class index is
#   │   ├── n01443537/                the position of the folder name in the
#   │   │   ├── images/*.JPEG         sorted list of the 200 wnids; the
#   │   │   └── n01443537_boxes.txt   *_boxes.txt files are skipped
#   │   └── ...
#   └── val/
#       ├── images/val_0.JPEG ...
#       ├── val_annotations.txt       (official: file, wnid, box)
#       └── val_labels.txt            (ours: "val_0.JPEG 107" per line)
#
# The official test split has no labels, so the val split is used for val and
# test. Write val_labels.txt from val_annotations.txt (and the sorted wnids of
# train/) with:
#   python tools/dataset_converters/tiny_imagenet.py data/tiny-imagenet-200
_base_ = ['./paper_224_common.py']
dataset_type = 'CustomDataset'
# data/, or $MLFD_DATA_ROOT where it is set (see cifar100.py).
data_root = '{{$MLFD_DATA_ROOT:data}}/tiny-imagenet-200'
data_preprocessor = dict(num_classes=200)
train_dataloader = dict(dataset=dict(
    type=dataset_type, data_root=data_root, data_prefix='train'))
val_dataloader = dict(dataset=dict(
    type=dataset_type, data_root=data_root, data_prefix='val/images',
    ann_file='val/val_labels.txt'))
test_dataloader = val_dataloader
