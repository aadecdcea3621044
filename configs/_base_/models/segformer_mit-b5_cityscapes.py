# SegFormer MiT-B5 trained on Cityscapes (the CoTTA setting): the mmseg 1.x
# model-zoo config segformer_mit-b5_8xb1-160k_cityscapes-1024x1024, with its
# slide inference (crop 1024, stride 768).
# Weights (82.25 mIoU on Cityscapes val), pass with --checkpoint:
# https://download.openmmlab.com/mmsegmentation/v0.5/segformer/segformer_mit-b5_8x1_1024x1024_160k_cityscapes/segformer_mit-b5_8x1_1024x1024_160k_cityscapes_20211206_072934-87a052ec.pth
_base_ = ['mmseg::_base_/models/segformer_mit-b0.py']
model = dict(
    backbone=dict(embed_dims=64, num_layers=[3, 6, 40, 3]),
    decode_head=dict(
        in_channels=[64, 128, 320, 512],
        norm_cfg=dict(type='BN', requires_grad=True)),
    test_cfg=dict(mode='slide', crop_size=(1024, 1024), stride=(768, 768)))
source_checkpoint = None
