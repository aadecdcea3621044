_base_ = [
    '../_base_/models/segformer_mit-b5_cityscapes.py', '../_base_/streams/acdc_10rounds.py',
    '../_base_/default_runtime.py',
    '../_base_/adapters/sar_ln.py'
]
# SAR (Niu et al., ICLR 2023) with the official code's hyper-parameters:
# margin 0.4 ln C, SAM rho 0.05, SGD momentum 0.9, loss EMA 0.9. LayerNorm
# transformers use SAR's batch-64 ViT lr 1e-3 (a segmentation loss averages
# every pixel of the image, far less noisy than the one sample its
# batch-size-1 rule was made for; not tuned). reset_constant 0.02 nats: a
# segmentation choice, see tta_seg/adapters/sar.py.
