# Equal-weight multi-teacher KD with the CE weight at 1.0 (as
# amtml_fashion_w4_ce1.py); all else as mtkd_fashion_w4_equal.py.
_base_ = ['./mtkd_fashion_w4_equal.py']
model = dict(loss_weights=dict(ce=1.0))
