# Source model of the embedded benchmark (LayerNorm backbone): SegFormer
# MiT-B0, trained from scratch on the synthetic clean train split.
# python tools/train.py configs/source/segformer-b0_synthetic-train.py \
#     --export checkpoints/synthetic/segformer_mit-b0_synthetic.pth
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
