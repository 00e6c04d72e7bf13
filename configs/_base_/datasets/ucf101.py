# UCF-101, split 1 (101 classes), from the original .avi files, read by
# mmaction2's VideoDataset. Layout (mmaction2's tools/data/ucf101 scripts
# write it):
#
#   data/ucf101/
#   ├── videos/<ClassName>/v_<ClassName>_gXX_cYY.avi
#   ├── ucf101_train_split_1_videos.txt  # "<ClassName>/v_*.avi <label>"
#   └── ucf101_val_split_1_videos.txt    # the split's test list
_base_ = ['./video_224_common.py']
data_root = 'data/ucf101/videos'
ann_file_train = 'data/ucf101/ucf101_train_split_1_videos.txt'
ann_file_val = 'data/ucf101/ucf101_val_split_1_videos.txt'
num_classes = 101
train_dataloader = dict(dataset=dict(ann_file=ann_file_train,
                                     data_prefix=dict(video=data_root)))
val_dataloader = dict(dataset=dict(ann_file=ann_file_val,
                                   data_prefix=dict(video=data_root)))
test_dataloader = val_dataloader
