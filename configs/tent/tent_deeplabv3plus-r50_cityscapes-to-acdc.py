_base_ = [
    '../_base_/models/deeplabv3plus_r50_cityscapes.py', '../_base_/streams/acdc_10rounds.py',
    '../_base_/default_runtime.py',
    '../_base_/adapters/tent.py'
]
