# Stage 2 of the paper's set T1: ResNet-18 (CIFAR-100), EfficientNet-B0
# (TinyImageNet) and SE-ResNeXt-26-D (ImageNet-Sketch), frozen, fused at
# their three deepest levels (28/14/7 px at 224 px input), one head per
# dataset. The datasets are those of the teachers' own configs;
# checkpoint='auto' is the best of each teacher's stage-1 run
# (tools/train.py links it as work_dirs/<teacher config>/best.pth; see
# mlfd_mm.config.auto_checkpoint).
_base_ = [
    '../_base_/models/joint_teacher.py',
    '../_base_/schedules/joint_paper.py',
    '../_base_/default_runtime.py'
]
_teacher_dir = '{{fileDirname}}/../teachers/'
model = dict(
    levels='L3',
    fusion=dict(width=256),
    teachers=[
        dict(name='cifar100', checkpoint='auto',
             config=_teacher_dir + 't1_resnet18_cifar100.py'),
        dict(name='tiny_imagenet', checkpoint='auto',
             config=_teacher_dir + 't1_efficientnet_b0_tiny_imagenet.py'),
        dict(name='imagenet_sketch', checkpoint='auto',
             config=_teacher_dir + 't1_seresnext26d_imagenet_sketch.py'),
    ])
# Budget: the paper's joint teacher costs about 1/5 of a teacher's training
# (supplementary, "Time complexity"). One joint epoch draws as many images as
# all m datasets hold (MultiDatasetSampler), and a joint step (m frozen
# forwards + fusion) costs about one teacher training step, so E joint epochs
# are E * m / 200 of a 200-epoch teacher's steps on average: E = 40 / m,
# 13 epochs for m = 3 (joint_paper.py's 30 would be 0.45).
train_cfg = dict(max_epochs=13)
# ratio='size': one ordinary pass over every dataset per epoch. T1's
# imbalance is mild (50,000 / 100,000 / ~35,000-50,000 training images): at
# 128 per batch a batch without a sample of some dataset has probability
# < 1e-11, while 'uniform' would repeat CIFAR-100 and Sketch 1.2-1.8x per
# epoch and show 2/3 of TinyImageNet (8.7 passes in 13 epochs against 17
# for CIFAR-100). See mlfd_mm.datasets.samplers.sampler_plan. T3/T4 (and
# the other joints on this file) inherit it.
# Loaders for GPUs as the paper datasets' (_base_/datasets/paper_224_common.py)
_gpu = dict(num_workers=8, pin_memory=True,
            collate_fn=dict(type='stack_collate'))
train_dataloader = dict(batch_size=128, **_gpu, sampler=dict(ratio='size'))
val_dataloader = dict(batch_size=128, **_gpu)
test_dataloader = dict(batch_size=128, **_gpu)
