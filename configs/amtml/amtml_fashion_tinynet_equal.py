# AMTML-KD on offline fashion with equal teacher weights (mu = 1/3 for every
# image): the ablation of the adaptive weighting, all else as in
# amtml_fashion_tinynet.py.
_base_ = ['./amtml_fashion_tinynet.py']
model = dict(adaptive=False)
