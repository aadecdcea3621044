# Second stage of the long class-weighted R18 recipe: a warm restart
# (SGDR-style, Loshchilov & Hutter, 2017) from the 8000-iteration model of
# deeplabv3plus-r18_synthetic-train-long.py, 4000 more iterations with the
# learning rate warmed up again to half the first stage's peak and decayed
# to 1e-5. Same data, crops, loss and optimizer. About 25 min on a 2-core
# CPU. Run the first stage first (it writes the checkpoint loaded here):
# python tools/train.py configs/source/deeplabv3plus-r18_synthetic-train-long.py
# python tools/train.py configs/source/deeplabv3plus-r18_synthetic-train-long-ft.py \
#     --export checkpoints/synthetic/deeplabv3plus_r18_synthetic.pth \
#     --export-dtype float16
_base_ = ['./deeplabv3plus-r18_synthetic-train-long.py']
load_from = 'work_dirs/deeplabv3plus-r18_synthetic-train-long/iter_8000.pth'
max_iters = 4000
train_cfg = dict(max_iters=max_iters, val_interval=2000)
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=100),
    dict(type='PolyLR', eta_min=1e-5, power=1.0, begin=100, end=max_iters,
         by_epoch=False)
]
randomness = dict(seed=1)
