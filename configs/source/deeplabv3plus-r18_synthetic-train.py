# The short recipe of the embedded benchmark's DeepLabV3+ R18 (BN
# backbone): 2000 iterations from scratch on the synthetic clean train
# split (48.9 clean-val mIoU; shipped before the long recipes). The
# shipped model comes from the long recipe built on this one,
# deeplabv3plus-r18_synthetic-train-long.py and -train-long-ft.py.
# python tools/train.py configs/source/deeplabv3plus-r18_synthetic-train.py
_base_ = ['../_base_/models/deeplabv3plus_r18_synthetic.py',
          '../_base_/schedules/synthetic_source.py']
model = dict(data_preprocessor=dict(size={{_base_.crop_size}}))
