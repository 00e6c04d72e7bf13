# HMDB-51, split 1 (51 classes), from the original .avi files, read by
# mmaction2's VideoDataset. Layout (mmaction2's tools/data/hmdb51 scripts
# write it):
#
#   data/hmdb51/
#   ├── videos/<class_name>/<video>.avi
#   ├── hmdb51_train_split_1_videos.txt  # "<class>/<video>.avi <label>"
#   └── hmdb51_val_split_1_videos.txt    # the split's test list
_base_ = ['./video_224_common.py']
data_root = 'data/hmdb51/videos'
ann_file_train = 'data/hmdb51/hmdb51_train_split_1_videos.txt'
ann_file_val = 'data/hmdb51/hmdb51_val_split_1_videos.txt'
num_classes = 51
train_dataloader = dict(dataset=dict(ann_file=ann_file_train,
                                     data_prefix=dict(video=data_root)))
val_dataloader = dict(dataset=dict(ann_file=ann_file_val,
                                   data_prefix=dict(video=data_root)))
test_dataloader = val_dataloader
