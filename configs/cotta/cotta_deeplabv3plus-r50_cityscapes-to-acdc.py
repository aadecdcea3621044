_base_ = [
    '../_base_/models/deeplabv3plus_r50_cityscapes.py',
    '../_base_/streams/acdc_10rounds.py',
    '../_base_/default_runtime.py',
    '../_base_/adapters/cotta.py'
]
# CoTTA (CVPR 2022) on the Cityscapes -> ACDC protocol, published
# hyper-parameters: EMA 0.999, gate 0.69, restoration 0.01, 14 teacher views,
# hard pseudo labels with the decode head's loss, Adam lr 6e-5 / 8.
# DeepLabV3+ R50 (BN backbone) instead of the paper's SegFormer-B5.
