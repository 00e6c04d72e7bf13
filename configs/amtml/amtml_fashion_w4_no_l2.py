# AMTML-KD without the L2 penalty on the latent vectors (theta, W), all else
# as amtml_fashion_w4.py.
_base_ = ['./amtml_fashion_w4.py']
model = dict(loss_weights=dict(latent_l2=0.))
