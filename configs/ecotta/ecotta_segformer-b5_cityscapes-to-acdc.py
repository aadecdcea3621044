_base_ = [
    '../_base_/models/segformer_mit-b5_cityscapes.py',
    '../_base_/streams/acdc_10rounds.py',
    '../_base_/default_runtime.py',
    '../_base_/adapters/ecotta.py'
]
# EcoTTA (Song et al., CVPR 2023) on Cityscapes -> ACDC with SegFormer-B5:
# a meta block after every MiT stage (K=4). Without a Cityscapes warm-up
# checkpoint the meta blocks start as identities (= the source model); pass
# one with --cfg-options adapter.meta_checkpoint=... (same partition).
