_base_ = [
    '../_base_/models/segformer_mit-b5_cityscapes.py', '../_base_/streams/acdc_10rounds.py',
    '../_base_/default_runtime.py',
    '../_base_/adapters/tent.py'
]
