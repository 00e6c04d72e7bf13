# Stage 2 of the paper's action-recognition set (supplementary, Table 3):
# TSN-R50 (ActivityNet), TSM-R50 (HMDB-51, UCF-101 split 1), 8 segments,
# each fine-tuned from Kinetics-400, frozen and fused frame by frame at L1
# (their deepest level), one head per dataset with the average over the
# segments. The datasets are those of the teachers' own configs;
# checkpoint='auto' is the best of each teacher's stage-1 run (tools/train.py
# links it as work_dirs/<teacher config>/best.pth).
_base_ = [
    '../_base_/models/joint_teacher.py',
    '../_base_/schedules/joint_paper.py',
    '../_base_/video_runtime.py',
]
_teacher_dir = '{{fileDirname}}/../teachers/'
model = dict(
    levels='L1',
    fusion=dict(width=256),
    # raw 0..255 clips (B, 8, 3, 224, 224); each teacher normalises itself
    data_preprocessor=dict(type='ActionDataPreprocessor', _scope_='mmaction',
                           format_shape='NCHW'),
    teachers=[
        dict(name='activitynet', checkpoint='auto',
             config=_teacher_dir + 'video_tsn_r50_activitynet.py'),
        dict(name='hmdb51', checkpoint='auto',
             config=_teacher_dir + 'video_tsm_r50_hmdb51.py'),
        dict(name='ucf101', checkpoint='auto',
             config=_teacher_dir + 'video_tsm_r50_ucf101.py'),
    ])
# 8 clips of 8 frames per GPU, as the teachers' recipes
# Loaders for GPUs as the video datasets' (_base_/datasets/video_224_common.py)
_gpu = dict(num_workers=8, pin_memory=True,
            collate_fn=dict(type='stack_collate_list'))
train_dataloader = dict(batch_size=8, **_gpu)
val_dataloader = dict(batch_size=8, **_gpu)
test_dataloader = dict(batch_size=8, **_gpu)
# acc@1/acc@5 and mAP per dataset and their mean (the paper reports acc@1
# and mAP)
val_evaluator = dict(items=('accuracy', 'mAP'))
test_evaluator = val_evaluator
auto_scale_lr = dict(base_batch_size=64)
