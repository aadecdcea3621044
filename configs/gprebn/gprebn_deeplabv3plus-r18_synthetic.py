_base_ = [
    '../_base_/models/deeplabv3plus_r18_synthetic.py', '../_base_/streams/synthetic_3rounds.py',
    '../_base_/default_runtime.py'
]
# GpreBN (Yang et al., 2022): entropy on BN affine parameters, Adam. The lr
# is TENT-original's on this benchmark (same loss and parameters: the two
# differ only in the BN layer). The paper gives no segmentation setting.
adapter = dict(
    type='GpreBN',
    optim_wrapper=dict(optimizer=dict(type='Adam', lr=1e-4)))
