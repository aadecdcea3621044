# Second stage of the long class-weighted SegFormer-B0 recipe: a warm
# restart (as the R18 recipe's second stage) from the 7000-iteration model
# of segformer-b0_synthetic-train-long.py, 3000 more iterations with the
# learning rate warmed up again to half the first stage's peak and decayed
# to 1e-5. Same data, crops, loss and optimizer; about 0.7 s per
# iteration on a quiet 2-core CPU (35 min), checkpoints every 500 iterations,
# continues after an interruption with --resume. The first stage's
# weights are not shipped (the shipped B0 is the last stage's); another
# starting point goes in with --cfg-options load_from=PATH:
# python tools/train.py configs/source/segformer-b0_synthetic-train-long.py
# python tools/train.py configs/source/segformer-b0_synthetic-train-long-ft.py \
#     [--resume]
_base_ = ['./segformer-b0_synthetic-train-long.py']
load_from = 'work_dirs/segformer-b0_synthetic-train-long/iter_7000.pth'
max_iters = 3000
train_cfg = dict(max_iters=max_iters, val_interval=1000)
optim_wrapper = dict(optimizer=dict(lr=3e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=100),
    dict(type='PolyLR', eta_min=1e-5, power=1.0, begin=100, end=max_iters,
         by_epoch=False)
]
randomness = dict(seed=1)
