# Offline video dataset "motion" (synthetic motion over real frames), 6
# classes: an animal silhouette (offline animals) rotating clockwise or
# counter-clockwise, zooming in or out, shaking or static.
_base_ = ['./offline_video_common.py']
data_root = '{{fileDirname}}/../../../data/offline_video/motion'
num_classes = 6
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = dict(dataset=dict(data_root=data_root))
