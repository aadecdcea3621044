_base_ = [
    '../_base_/models/deeplabv3plus_r18_synthetic.py', '../_base_/streams/synthetic_3rounds.py',
    '../_base_/default_runtime.py',
    '../_base_/adapters/tent-original.py'
]
# TENT as in the paper: entropy, BN affine only, test-batch BN statistics.
