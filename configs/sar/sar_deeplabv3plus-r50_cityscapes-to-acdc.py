_base_ = [
    '../_base_/models/deeplabv3plus_r50_cityscapes.py',
    '../_base_/streams/acdc_10rounds.py',
    '../_base_/default_runtime.py',
    '../_base_/adapters/sar_bn.py'
]
# SAR (Niu et al., ICLR 2023) on Cityscapes -> ACDC with DeepLabV3+ R50
# (BN backbone): the hyper-parameters of the embedded-benchmark R18 config
# (margin 0.4 ln C, SAM rho 0.05, SGD lr 2.5e-4 momentum 0.9, loss EMA 0.9,
# recovery below 0.2 nats, test-batch BN statistics; see
# tta_seg/adapters/sar.py). Not tuned on ACDC.
