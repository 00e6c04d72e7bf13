# AMTML-KD with the released defaults but the CE weight at 1.0 instead of
# 1 - alpha = 0.3: in this 20-epoch schedule the released split leaves the
# small student underfitted (README). All else as amtml_fashion_w4.py.
_base_ = ['./amtml_fashion_w4.py']
model = dict(loss_weights=dict(ce=1.0))
