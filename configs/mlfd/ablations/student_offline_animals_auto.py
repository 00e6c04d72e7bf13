# The animals student of the level ablation: as student_offline_animals.py, but
# distilling every level of whichever joint teacher it is given ('auto':
# the deepest student stage of each resolution, paired in order).
_base_ = ['../student_offline_animals.py']
model = dict(distill='auto')
