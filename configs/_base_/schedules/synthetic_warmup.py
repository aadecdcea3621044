# Pre-deployment warm-up on the clean synthetic source data (EcoTTA meta
# networks): the source schedule, shorter.
_base_ = ['./synthetic_source.py']
max_iters = 300
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=30),
    dict(type='PolyLR', eta_min=1e-6, power=1.0, begin=30, end=max_iters,
         by_epoch=False)
]
