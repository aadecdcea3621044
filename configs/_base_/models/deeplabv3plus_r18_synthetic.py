# DeepLabV3+ with a ResNetV1c-18 backbone (BN everywhere), output stride 16,
# for the embedded synthetic benchmark. Half width (stem and stages 32, 64,
# 128, 256 channels; 2.9M parameters instead of 12M): enough for the
# synthetic scenes, 4x cheaper on a CPU, and a few MB as a shipped fp16
# state dict. Trained by us from scratch (configs/source/).
_base_ = ['mmseg::_base_/models/deeplabv3plus_r50-d8.py']
model = dict(
    pretrained=None,
    backbone=dict(
        depth=18,
        base_channels=32,
        stem_channels=32,
        strides=(1, 2, 2, 1),
        dilations=(1, 1, 1, 2),
        norm_cfg=dict(type='BN', requires_grad=True)),
    decode_head=dict(
        in_channels=256,
        channels=128,
        c1_in_channels=32,
        c1_channels=48,
        dilations=(1, 6, 12, 18),
        norm_cfg=dict(type='BN', requires_grad=True)),
    auxiliary_head=None)
source_checkpoint = 'checkpoints/synthetic/deeplabv3plus_r18_synthetic.pth'
