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
# test. Make val_labels.txt from val_annotations.txt in the root folder with:
#   wnids = sorted(os.listdir('train'))
#   lines = [f'{f} {wnids.index(w)}' for f, w, *_ in
#            (l.split() for l in open('val/val_annotations.txt'))]
#   open('val/val_labels.txt', 'w').write('\n'.join(lines) + '\n')
dataset_type = 'CustomDataset'
data_root = 'data/tiny-imagenet-200'
data_preprocessor = dict(
    num_classes=200,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True,
)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=128,
    num_workers=8,
    dataset=dict(type=dataset_type, data_root=data_root, data_prefix='train',
                 pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
val_dataloader = dict(
    batch_size=128,
    num_workers=8,
    dataset=dict(type=dataset_type, data_root=data_root,
                 data_prefix='val/images', ann_file='val/val_labels.txt',
                 pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
