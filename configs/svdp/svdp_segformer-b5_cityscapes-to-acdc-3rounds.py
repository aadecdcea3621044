_base_ = [
    '../_base_/models/segformer_mit-b5_cityscapes.py',
    '../_base_/streams/acdc_3rounds.py',
    '../_base_/default_runtime.py',
    '../_base_/adapters/svdp.py'
]
# SVDP (AAAI 2024) as published: SegFormer-B5, Cityscapes -> ACDC, 3 rounds
# (official log with these hyper-parameters: 60.3 / 61.4 / 61.4 mIoU).
