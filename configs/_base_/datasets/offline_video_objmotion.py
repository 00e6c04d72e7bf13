# Offline video dataset "objmotion" (synthetic motion over real frames), 10
# classes: one of 5 garments (offline fashion) sliding or spinning;
# label = 2 * garment + motion.
_base_ = ['./offline_video_common.py']
data_root = '{{fileDirname}}/../../../data/offline_video/objmotion'
num_classes = 10
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = dict(dataset=dict(data_root=data_root))
