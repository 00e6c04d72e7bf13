# Stage 2 on the offline video set (synthetic motion over real frames): the
# three stage-1 video teachers (TSM ResNet-18 "direction" and "motion", TSN
# half-width ResNet-18 "objmotion", 8 segments each), frozen, fused frame by
# frame at L1 (their deepest level, as the paper's action-recognition joint
# teacher), one head per dataset with the average over the 8 segments. The
# datasets are those of the teachers' own configs. tools/run_pipeline.py
# fills in the checkpoints of the run; by hand, point them at your stage-1
# runs.
_base_ = [
    '../_base_/models/joint_teacher.py',
    '../_base_/schedules/offline_joint_cpu.py',
    '../_base_/video_runtime.py',
]
_teachers = dict(
    direction='configs/teachers/offline_video_tsm_r18_direction.py',
    motion='configs/teachers/offline_video_tsm_r18_motion.py',
    objmotion='configs/teachers/offline_video_tsn_r18_objmotion.py',
)
model = dict(
    levels='L1',
    # No dropout nor label smoothing (the image joint teacher's 0.1 / 0.2 /
    # 0.1): with them this joint teacher underfit its TSM datasets (seed 0,
    # val acc@1 direction 74.2, motion 57.1, objmotion 80.0 after 10
    # epochs; without: 88.8, 60.0, 82.5; teachers 89.6, 60.4, 71.7).
    fusion=dict(dropout=0.0),
    head=dict(dropout=0.0, label_smoothing=0.0),
    # Raw 0..255 clips stacked as (B, 8, 3, H, W); each frozen teacher
    # applies its own mean/std.
    data_preprocessor=dict(type='ActionDataPreprocessor', _scope_='mmaction',
                           format_shape='NCHW'),
    teachers=[
        # tools/train.py links each run's best checkpoint as best.pth
        dict(name=name, config=config,
             checkpoint=config.replace('configs/teachers/', 'work_dirs/')[:-3]
             + '/best.pth') for name, config in _teachers.items()
    ])
# Clips are 8 frames: smaller batches than the image joint teacher's.
train_dataloader = dict(batch_size=32, dataset=dict(
    names=list(_teachers),
    datasets=[dict(config=c, split='train') for c in _teachers.values()]))
val_dataloader = dict(batch_size=64, dataset=dict(
    names=list(_teachers),
    datasets=[dict(config=c, split='val') for c in _teachers.values()]))
test_dataloader = dict(batch_size=64, dataset=dict(
    names=list(_teachers),
    datasets=[dict(config=c, split='test') for c in _teachers.values()]))
# acc@1/acc@5 and the mAP over classes (the paper's video metrics), per
# dataset and their mean.
val_evaluator = dict(items=('accuracy', 'mAP'))
test_evaluator = val_evaluator
auto_scale_lr = dict(base_batch_size=32)
