# AMTML-KD with equal teacher weights (mu = 1/3 for every image): hints and
# RKD as amtml_fashion_w4.py, no learned weighting, the ablation of the
# adaptive weights.
_base_ = ['./amtml_fashion_w4.py']
model = dict(adaptive=False)
