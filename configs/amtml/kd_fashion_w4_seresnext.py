# Single-teacher KD into the quarter-width ResNet-18 from the best of the
# three teachers (SE-ResNeXt), with the KD term and weights of
# mtkd_fashion_w4_equal.py (alpha = 0.7, T = 5).
_base_ = ['./mtkd_fashion_w4_equal.py']
model = dict(teachers=[_base_._fashion_teachers_w4[2]])
