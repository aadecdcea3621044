_base_ = [
    '../_base_/models/deeplabv3plus_r18_synthetic.py',
    '../_base_/streams/synthetic_3rounds_mixed.py',
    '../_base_/default_runtime.py',
    '../_base_/adapters/tent-original.py'
]
# TENT as in the paper on the mixed embedded stream.
