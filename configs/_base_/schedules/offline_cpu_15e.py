# offline_cpu.py at 15 epochs: its cosine phase ends at train_cfg.max_epochs,
# so another budget is this one line.
_base_ = ['./offline_cpu.py']
train_cfg = dict(max_epochs=15)
