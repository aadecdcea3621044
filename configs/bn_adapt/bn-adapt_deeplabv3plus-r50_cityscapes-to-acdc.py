_base_ = [
    '../_base_/models/deeplabv3plus_r50_cityscapes.py', '../_base_/streams/acdc_10rounds.py',
    '../_base_/default_runtime.py'
]
adapter = dict(type='BNAdapt', prior=0.0)
