# The embedded SN/CN source model, trained as the plain R18 model's long
# recipe (class-weighted cross-entropy, configs/_base_/losses/) and
# initialised from it: 3000 iterations with CrossNorm and SelfNorm from the
# plain model's final weights (the SelfNorm units start from scratch). The
# paper trains SN/CN into an ImageNet-pretrained network; the plain source
# model plays the pretrained network's part here (no ImageNet for the
# synthetic scenes). About 30 min on a 2-core CPU. Run the two stages of
# the plain model first (their last checkpoint is loaded here):
# python tools/train.py configs/source/deeplabv3plus-r18_synthetic-train-long.py
# python tools/train.py configs/source/deeplabv3plus-r18_synthetic-train-long-ft.py
# python tools/train.py configs/sncn/sncn_deeplabv3plus-r18_synthetic-train-long.py \
#     --export checkpoints/synthetic/deeplabv3plus_r18-sncn_synthetic.pth \
#     --export-dtype float16
_base_ = ['./sncn_deeplabv3plus-r18_synthetic-train.py',
          '../_base_/losses/synthetic_class_weighted.py']
load_from = \
    'work_dirs/deeplabv3plus-r18_synthetic-train-long-ft/iter_4000.pth'
max_iters = 3000
train_cfg = dict(max_iters=max_iters, val_interval=1000)
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=100),
    dict(type='PolyLR', eta_min=1e-5, power=1.0, begin=100, end=max_iters,
         by_epoch=False)
]
model = dict(decode_head=dict(
    loss_decode={{_base_.synthetic_class_weighted_loss}}))
default_hooks = dict(checkpoint=dict(interval=1000))
