# Offline video dataset "direction" (synthetic motion over real frames), 8
# classes: a digit (offline mnist) moving in one of 8 compass directions.
_base_ = ['./offline_video_common.py']
data_root = '{{fileDirname}}/../../../data/offline_video/direction'
num_classes = 8
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = dict(dataset=dict(data_root=data_root))
