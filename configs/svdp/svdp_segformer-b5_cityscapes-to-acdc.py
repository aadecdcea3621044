_base_ = [
    '../_base_/models/segformer_mit-b5_cityscapes.py',
    '../_base_/streams/acdc_10rounds.py',
    '../_base_/default_runtime.py',
    '../_base_/adapters/svdp.py'
]
# SVDP (AAAI 2024) on the CoTTA protocol (10 rounds), published
# hyper-parameters (the official code ran 3 rounds only).
