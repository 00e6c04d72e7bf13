# The same-dataset joint teacher of the quarter-width student's three
# teachers (the ResNet-18 trained 40 epochs), for mlfd_fashion_w4.py run on
# its own. configs/pipelines/amtml_fashion_w4.py trains it as
# joint_fashion_same_dataset.py with each teacher set to its own stage-1 run.
_base_ = ['./joint_fashion_same_dataset.py']
model = dict(teachers=_base_._fashion_teachers_w4)
