# TENT as in the paper (entropy, BN affine only, test-batch BN statistics)
# on the embedded corruption stream: 15 ImageNet-C corruptions at severity
# 5 of the clean synthetic val split, continual (no reset), as TENT's and
# CoTTA's ImageNet-C protocol.
_base_ = [
    '../_base_/models/deeplabv3plus_r18_synthetic.py',
    '../_base_/streams/synthetic_corruptions.py',
    '../_base_/default_runtime.py',
    '../_base_/adapters/tent-original.py'
]
