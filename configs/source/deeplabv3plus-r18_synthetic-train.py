# Source model of the embedded benchmark (BN backbone): DeepLabV3+ R18,
# trained from scratch on the synthetic clean train split.
# python tools/train.py configs/source/deeplabv3plus-r18_synthetic-train.py \
#     --export checkpoints/synthetic/deeplabv3plus_r18_synthetic.pth
_base_ = ['../_base_/models/deeplabv3plus_r18_synthetic.py',
          '../_base_/schedules/synthetic_source.py']
model = dict(data_preprocessor=dict(size={{_base_.crop_size}}))
