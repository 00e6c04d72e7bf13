# Vanilla multi-teacher KD on offline fashion: the same student and teachers
# as amtml_fashion_tinynet.py, soft targets averaged with equal weights,
# with AMTML's alpha = 0.7 and T = 5, and nothing else (no hints, no RKD).
_base_ = ['./amtml_fashion_tinynet.py']
model = dict(
    adaptive=False,
    hints=dict(_delete_=True),
    loss_weights=dict(rkd=0., hint=0.))
