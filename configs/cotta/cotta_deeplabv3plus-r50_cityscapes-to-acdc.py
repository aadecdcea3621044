_base_ = [
    '../_base_/models/deeplabv3plus_r50_cityscapes.py',
    '../_base_/streams/acdc_10rounds.py',
    '../_base_/default_runtime.py'
]
# CoTTA (CVPR 2022) on the Cityscapes -> ACDC protocol, published
# hyper-parameters: EMA 0.999, gate 0.69, restoration 0.01, 14 teacher views,
# hard pseudo labels with the decode head's loss, Adam lr 6e-5 / 8.
# DeepLabV3+ R50 (BN backbone) instead of the paper's SegFormer-B5.
adapter = dict(
    type='CoTTA',
    alpha_teacher=0.999,
    anchor_threshold=0.69,
    restore_prob=0.01,
    scales=(0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0),
    flip=True,
    loss='hard',
    optim_wrapper=dict(optimizer=dict(type='Adam', lr=6e-5 / 8)))
