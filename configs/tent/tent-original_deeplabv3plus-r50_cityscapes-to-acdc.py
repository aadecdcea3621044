_base_ = [
    '../_base_/models/deeplabv3plus_r50_cityscapes.py',
    '../_base_/streams/acdc_10rounds.py',
    '../_base_/default_runtime.py',
    '../_base_/adapters/tent-original.py'
]
# TENT as in the paper: entropy, BN affine only, test-batch BN statistics
# (Adam 1e-4, not tuned on ACDC).
