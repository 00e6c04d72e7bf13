# The offline fashion model (offline_fashion_tinynet.py) on a 30-epoch
# schedule instead of 20, the cosine phase ending at the last epoch: the
# dataset-specific baseline of the 30-epoch student of issue #14 (a fair
# test of a longer student schedule gives the baseline the same budget).
_base_ = ['./offline_fashion_tinynet.py']
train_cfg = dict(max_epochs=30)
