# Model base (no adapter): DeepLabV3+ R18 of the embedded benchmark with
# CrossNorm -> SelfNorm (Tang et al., ICCV 2021) after every ResNet stage
# (mmseg's BasicBlock takes no plugins; see
# tta_seg/models/selfnorm_crossnorm.py). As the official segmentation code:
# 2-instance CrossNorm with style crops (Beta(1, 1) area, > 10 % of the
# map); it applies one CrossNorm with probability 0.5 per iteration, here
# each of the 4 draws its own p = 0.5 / 4. SelfNorm stays active at test
# time, CrossNorm is the identity there. ('tta_seg.' prefix: the model
# inherits an mmseg:: base, so it is built in mmseg's scope.)
_base_ = ['../_base_/models/deeplabv3plus_r18_synthetic.py']
model = dict(
    backbone=dict(
        type='tta_seg.ResNetV1cSNCN',
        sncn_stages=(True, True, True, True),
        crossnorm=dict(
            type='CrossNorm', mode='2-instance', crop='style', p=0.5 / 4,
            beta=1.0, min_area=0.1),
        selfnorm=dict(type='SelfNorm', recalibrate_mean=True)))
source_checkpoint = 'checkpoints/synthetic/deeplabv3plus_r18-sncn_synthetic.pth'
