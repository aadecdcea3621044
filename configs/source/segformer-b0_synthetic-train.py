# The short recipe of the embedded benchmark's SegFormer MiT-B0 (LayerNorm
# backbone): 2000 iterations from scratch on the synthetic clean train
# split (45.0 clean-val mIoU; shipped before the long recipes). It is
# the first of the six stages of the shipped model; the others are
# segformer-b0_synthetic-train-long{,-ft,-distill,-distill2,-distill3}.py.
# python tools/train.py configs/source/segformer-b0_synthetic-train.py
_base_ = ['../_base_/models/segformer_mit-b0_synthetic.py',
          '../_base_/schedules/synthetic_source.py']
model = dict(data_preprocessor=dict(size={{_base_.crop_size}}))
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={
        'pos_block': dict(decay_mult=0.),
        'norm': dict(decay_mult=0.),
        'head': dict(lr_mult=10.)
    }),
    optimizer=dict(lr=6e-4))
