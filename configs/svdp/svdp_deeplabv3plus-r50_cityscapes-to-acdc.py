_base_ = [
    '../_base_/models/deeplabv3plus_r50_cityscapes.py',
    '../_base_/streams/acdc_10rounds.py',
    '../_base_/default_runtime.py',
    '../_base_/adapters/svdp.py'
]
# SVDP on the CoTTA protocol with DeepLabV3+ R50 (BN backbone) instead of the
# paper's SegFormer-B5; the SegFormer hyper-parameters are reused (no
# published values for this model).
