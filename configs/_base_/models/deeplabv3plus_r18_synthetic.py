# DeepLabV3+ with a ResNetV1c-18 backbone (BN everywhere), output stride 16,
# for the embedded synthetic benchmark. Trained by us from scratch
# (configs/source/), shipped as a plain state dict.
_base_ = ['mmseg::_base_/models/deeplabv3plus_r50-d8.py']
model = dict(
    pretrained=None,
    backbone=dict(
        depth=18,
        strides=(1, 2, 2, 1),
        dilations=(1, 1, 1, 2),
        norm_cfg=dict(type='BN', requires_grad=True)),
    decode_head=dict(
        in_channels=512,
        channels=128,
        c1_in_channels=64,
        c1_channels=48,
        dilations=(1, 6, 12, 18),
        norm_cfg=dict(type='BN', requires_grad=True)),
    auxiliary_head=None)
source_checkpoint = 'checkpoints/synthetic/deeplabv3plus_r18_synthetic.pth'
