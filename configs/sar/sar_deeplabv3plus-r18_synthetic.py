_base_ = [
    '../_base_/models/deeplabv3plus_r18_synthetic.py', '../_base_/streams/synthetic_3rounds.py',
    '../_base_/default_runtime.py',
    '../_base_/adapters/sar_bn.py'
]
# SAR (Niu et al., ICLR 2023) with the official code's hyper-parameters:
# margin 0.4 ln C, SAM rho 0.05, SGD momentum 0.9, loss EMA 0.9. BN models
# use SAR's batch-64 ResNet-BN lr 2.5e-4 (a segmentation loss averages
# every pixel of the image, far less noisy than the one sample its
# batch-size-1 rule was made for; not tuned). reset_constant 0.02 nats and
# source BN statistics: segmentation choices, see tta_seg/adapters/sar.py.
