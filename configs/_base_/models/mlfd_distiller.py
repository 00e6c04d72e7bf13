# MLFD stage 3: a student distilled from the frozen joint teacher. Defaults
# of the authors' released code: 0.6 * KD (T = 2, scaled by T^2)
# + 0.2 * feature MSE (shared by the distilled pairs) + 0.2 * CE.
# Each student config sets `student` (a model config, or the dataset's
# stage-1 config file: same architecture, trained afresh), `teacher` (joint
# config + checkpoint), `dataset` (its name among the joint teacher's) and,
# optionally, explicit `distill` pairs (student stage, joint level 'l1'..).
model = dict(
    type='MLFDDistiller',
    student=None,
    teacher=dict(config=None, checkpoint=None),
    dataset=None,
    distill='auto',
    loss_weights=dict(kd=0.6, feature=0.2, ce=0.2),
    temperature=2.0,
)
# Logs the joint teacher's acc@1/acc@5 on the student's split once.
custom_hooks = [dict(type='JointTeacherAccuracyHook')]
