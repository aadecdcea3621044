# Source model with CrossNorm + SelfNorm (Tang et al., ICCV 2021):
# DeepLabV3+ R18 trained from scratch on the synthetic clean train split,
# with the short schedule of the plain source model (configs/source/;
# 49.3 clean-val mIoU, shipped before the long recipe). The shipped SN/CN
# model comes from sncn_deeplabv3plus-r18_synthetic-train-long.py.
# python tools/train.py configs/sncn/sncn_deeplabv3plus-r18_synthetic-train.py
_base_ = ['./deeplabv3plus_r18-sncn_synthetic.py',
          '../_base_/schedules/synthetic_source.py']
model = dict(data_preprocessor=dict(size={{_base_.crop_size}}))
