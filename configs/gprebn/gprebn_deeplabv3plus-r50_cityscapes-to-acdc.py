_base_ = [
    '../_base_/models/deeplabv3plus_r50_cityscapes.py', '../_base_/streams/acdc_10rounds.py',
    '../_base_/default_runtime.py'
]
# GpreBN (Yang et al., 2022): entropy on BN affine parameters, Adam with the
# lr of TENT in CoTTA's Cityscapes -> ACDC protocol (6e-5 / 8); the paper
# gives no segmentation setting.
adapter = dict(
    type='GpreBN',
    optim_wrapper=dict(optimizer=dict(type='Adam', lr=6e-5 / 8)))
