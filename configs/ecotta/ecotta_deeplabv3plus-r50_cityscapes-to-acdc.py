_base_ = [
    '../_base_/models/deeplabv3plus_r50_cityscapes.py',
    '../_base_/streams/acdc_10rounds.py',
    '../_base_/default_runtime.py',
    '../_base_/adapters/ecotta.py'
]
# EcoTTA (Song et al., CVPR 2023) on Cityscapes -> ACDC with DeepLabV3+ R50:
# meta blocks after every ResNet stage (K=4; the paper's denser-in-shallow
# K=5 would be partition=('layer1', 'layer2.1', 'layer2', 'layer3',
# 'layer4')). Without a Cityscapes warm-up checkpoint the meta blocks start
# as identities (= the source model); pass one with
# --cfg-options adapter.meta_checkpoint=... (same partition).
