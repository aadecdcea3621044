# EcoTTA pre-deployment warm-up (Song et al., CVPR 2023): the meta blocks
# (one after every ResNet stage) learn on the clean synthetic source data
# while the source DeepLabV3+ R18 stays frozen and in eval mode. Loss: the
# decode head's cross-entropy (warmup_reg_weight=0, see
# tta_seg/models/ecotta.py). The partition must match the TTA config.
# 300 iterations, about 2 min on a 2-core CPU:
# python tools/train.py \
#     configs/ecotta/ecotta-warmup_deeplabv3plus-r18_synthetic.py \
#     --export-only meta_blocks. --export-dtype float16 --export \
#     checkpoints/synthetic/ecotta-warmup_deeplabv3plus-r18_synthetic.pth
_base_ = ['../_base_/models/deeplabv3plus_r18_synthetic.py',
          '../_base_/schedules/synthetic_warmup.py']
model = dict(
    _scope_='tta_seg',  # the mmseg:: base tags the model 'mmseg'
    type='EcoTTASegmentor',
    partition=None,
    checkpoint_frozen=False,  # warm-up memory is no concern: go faster
    warmup_reg_weight=0.0,
    data_preprocessor=dict(size={{_base_.crop_size}}))
# optimizer: the schedule's AdamW (only meta blocks get gradients).
# the frozen source weights (meta blocks are missing from it: expected)
load_from = {{_base_.source_checkpoint}}
