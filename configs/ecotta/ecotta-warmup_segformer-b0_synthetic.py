# EcoTTA warm-up of the meta blocks (one after every MiT stage) on the clean
# synthetic source data, SegFormer-B0 frozen. See the DeepLabV3+ R18 one.
# 300 iterations, about 2.5 min on a 2-core CPU:
# python tools/train.py \
#     configs/ecotta/ecotta-warmup_segformer-b0_synthetic.py \
#     --export-only meta_blocks. --export-dtype float16 --export \
#     checkpoints/synthetic/ecotta-warmup_segformer-b0_synthetic.pth
_base_ = ['../_base_/models/segformer_mit-b0_synthetic.py',
          '../_base_/schedules/synthetic_warmup.py']
model = dict(
    _scope_='tta_seg',  # the mmseg:: base tags the model 'mmseg'
    type='EcoTTASegmentor',
    partition=None,
    checkpoint_frozen=False,
    warmup_reg_weight=0.0,
    data_preprocessor=dict(size={{_base_.crop_size}}))
load_from = {{_base_.source_checkpoint}}
