# Stage 3 of the paper's 224 px image sets (T1, T3, T4): an MLFD student with
# the authors' loss weights (0.6 KD + 0.2 features + 0.2 CE, from
# ../models/mlfd_distiller.py), distilled pairs matched by spatial size
# (distill='auto': the student stages whose maps have the joint levels' 28/14/7
# px at 224 px input), trained afresh on its dataset-specific teacher's
# schedule (200 epochs, SGD). A student config adds its teacher's dataset
# file and sets `student` (that teacher's config: same architecture, new
# weights), `teacher.config` (the joint config) and `dataset` (its name among
# the joint teacher's).
#
# checkpoint='auto' is the best checkpoint of `tools/train.py <joint config>`
# (work_dirs/<joint config stem>/best.pth); after a pipeline run, add
# `--cfg-options pipeline_dir=work_dirs/t1/seed0` to use that run's joint
# teacher. tools/run_pipeline.py fills in the joint teacher of its own run.
_base_ = [
    '../models/mlfd_distiller.py',
    '../schedules/paper_sgd_224.py',
    '../default_runtime.py',
]
model = dict(teacher=dict(checkpoint='auto'))
# On a GPU every batch has the same 224 px shape, so cuDNN may time its
# kernels once and keep the fastest (no effect on the CPU).
env_cfg = dict(cudnn_benchmark=True)
