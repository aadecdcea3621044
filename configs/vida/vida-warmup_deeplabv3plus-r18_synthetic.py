# ViDA pre-deployment warm-up (Liu et al., ICLR 2024): the low-/high-rank
# adapters beside the residual-block convs learn on the clean synthetic
# source data with the decode head's cross-entropy, while the source
# DeepLabV3+ R18 stays frozen and in eval mode (ViDASegmentor). Ranks and
# targets must match the TTA config.
# The warm-up schedule's 300 iterations of batch 8: about 3 min on a quiet
# 2-core CPU (OMP_NUM_THREADS=1; 5 min when shared).
# OMP_NUM_THREADS=1 python tools/train.py \
#     configs/vida/vida-warmup_deeplabv3plus-r18_synthetic.py \
#     --export-only vida --export-dtype float16 --export \
#     checkpoints/synthetic/vida-warmup_deeplabv3plus-r18_synthetic.pth
_base_ = ['../_base_/models/deeplabv3plus_r18_synthetic.py',
          '../_base_/schedules/synthetic_warmup.py']
model = dict(
    _scope_='tta_seg',  # the mmseg:: base tags the model 'mmseg'
    type='ViDASegmentor',
    rank_low=1,
    rank_high=128,
    vida_targets=None,
    data_preprocessor=dict(size={{_base_.crop_size}}))
# the frozen source weights (the adapters are missing from it: expected)
load_from = {{_base_.source_checkpoint}}
