# Equal-weight multi-teacher KD into the quarter-width ResNet-18: the soft
# targets of the three teachers averaged, alpha = 0.7, T = 5 as AMTML-KD,
# no hints, no RKD (amtml_fashion_w4.py without its own parts).
_base_ = ['./amtml_fashion_w4.py']
model = dict(
    adaptive=False,
    hints=dict(_delete_=True),
    loss_weights=dict(rkd=0., hint=0.))
