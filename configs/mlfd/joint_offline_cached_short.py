# The cached joint teacher on the paper's budget: the MLFD paper (supp.,
# "Time complexity") trains the joint teacher for about 1/5 of a teacher's
# schedule, here 4 epochs against the teachers' 20 (configs/pipelines/
# offline_cached.py uses it). Seed 0, from the same teacher-feature cache:
# test mean acc@1 86.75 / 88.37 / 89.50 / 89.72 after 2 / 3 / 4 / 5 epochs,
# 90.17 after the 10 of joint_offline_cached.py (README, "The cached
# pipeline").
_base_ = ['./joint_offline_cached.py']
train_cfg = dict(max_epochs=4, val_interval=2)
