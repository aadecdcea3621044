# A longer, class-weighted recipe for the embedded SegFormer-B0 source
# model: 7000 more iterations from the 2000-iteration model of
# segformer-b0_synthetic-train.py (its last checkpoint, loaded as the
# starting point; the measured run started from the earlier shipped
# 2000-iteration weights, copied there), with the class-weighted
# cross-entropy of the R18 recipe
# (configs/_base_/losses/synthetic_class_weighted.py) and the same data,
# crops and optimizer (AdamW 6e-4, head x10). About 0.85 s per iteration
# on a 2-core CPU (twice the R18 model's: depthwise convolutions and the
# head's upsampling), so 100 min: it checkpoints every 500 iterations and
# continues after an interruption with --resume. Followed by
# segformer-b0_synthetic-train-long-ft.py:
# python tools/train.py configs/source/segformer-b0_synthetic-train.py
# python tools/train.py configs/source/segformer-b0_synthetic-train-long.py \
#     [--resume]
_base_ = ['./segformer-b0_synthetic-train.py',
          '../_base_/losses/synthetic_class_weighted.py']
load_from = 'work_dirs/segformer-b0_synthetic-train/iter_2000.pth'
max_iters = 7000
train_cfg = dict(max_iters=max_iters, val_interval=1000)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=100),
    dict(type='PolyLR', eta_min=1e-5, power=1.0, begin=100, end=max_iters,
         by_epoch=False)
]
model = dict(decode_head=dict(
    loss_decode={{_base_.synthetic_class_weighted_loss}}))
default_hooks = dict(checkpoint=dict(interval=500))
