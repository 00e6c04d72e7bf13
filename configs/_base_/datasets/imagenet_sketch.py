# ImageNet-Sketch (1000 ImageNet classes, ~50 sketches each) at 224 px, read
# by mmpretrain's CustomDataset. The release has no splits; this project
# defines them in three annotation files: a per-class stratified split, 70/10/
# 20 % of each class (35/5/10 of 50 images) drawn with seed 0, written with
#   python tools/dataset_converters/imagenet_sketch.py data/imagenet-sketch
# (which prints the counts and writes them, with the seed, to
# meta/split.json; mlfd_mm.apis.dataset_converters.imagenet_sketch_split):
#
#   data/imagenet-sketch/
#   ├── sketch/                       the release, as unpacked
#   │   ├── n01440764/*.JPEG
#   │   └── ...                       (1000 wnid folders)
#   └── meta/
#       ├── train.txt                 one "<wnid>/<file> <class index>" line
#       ├── val.txt                   per image; the class index is the
#       └── test.txt                  position of the wnid in the sorted
#                                     list of the 1000 folder names
_base_ = ['./paper_224_common.py']
dataset_type = 'CustomDataset'
# data/, or $MLFD_DATA_ROOT where it is set (see cifar100.py).
data_root = '{{$MLFD_DATA_ROOT:data}}/imagenet-sketch'
data_preprocessor = dict(num_classes=1000)
train_dataloader = dict(dataset=dict(
    type=dataset_type, data_root=data_root, data_prefix='sketch',
    ann_file='meta/train.txt'))
val_dataloader = dict(dataset=dict(
    type=dataset_type, data_root=data_root, data_prefix='sketch',
    ann_file='meta/val.txt'))
test_dataloader = dict(dataset=dict(
    type=dataset_type, data_root=data_root, data_prefix='sketch',
    ann_file='meta/test.txt'))
