# Control of student_arch2_digits_init.py: the stage-1 model trained another
# 15 epochs with CE alone (the same budget, no teacher).
_base_ = ['./student_arch2_digits_init.py']
model = dict(loss_weights=dict(kd=0., feature=0., ce=1.0))
