# DeepLabV3+ R50-D8 trained on Cityscapes (BN backbone): the mmseg 1.x
# model-zoo config deeplabv3plus_r50-d8_4xb2-80k_cityscapes-512x1024.
# Weights (80.09 mIoU on Cityscapes val), pass with --checkpoint:
# https://download.openmmlab.com/mmsegmentation/v0.5/deeplabv3plus/deeplabv3plus_r50-d8_512x1024_80k_cityscapes/deeplabv3plus_r50-d8_512x1024_80k_cityscapes_20200606_114049-f9fb496d.pth
# SyncBN -> BN (same weights; single-process adaptation).
_base_ = ['mmseg::_base_/models/deeplabv3plus_r50-d8.py']
model = dict(
    pretrained=None,
    backbone=dict(norm_cfg=dict(type='BN', requires_grad=True)),
    decode_head=dict(norm_cfg=dict(type='BN', requires_grad=True)),
    # the auxiliary head plays no part at test time
    auxiliary_head=None)
source_checkpoint = None
