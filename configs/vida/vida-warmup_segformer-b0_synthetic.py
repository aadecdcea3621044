# ViDA warm-up of the adapters on the q/k/v/output projections of every MiT
# attention on the clean synthetic source data, SegFormer-B0 frozen. See the
# DeepLabV3+ R18 one (300 iterations: about
# 5 min on a 2-core CPU), at a tenth of the schedule's learning rate
# (2e-4): at 2e-3 the warmed-up B0 scored 64.7 clean-val mIoU (with the
# class-weighted loss 64.0), below the frozen B0's own 66.4; at 2e-4 it
# keeps 65.4 with every class >= 22 (the R18 warm-up at 2e-3 rises from
# 65.1 to 67.3). ViDA's released code has no segmentation warm-up to
# follow.
# OMP_NUM_THREADS=1 python tools/train.py \
#     configs/vida/vida-warmup_segformer-b0_synthetic.py \
#     --export-only vida --export-dtype float16 --export \
#     checkpoints/synthetic/vida-warmup_segformer-b0_synthetic.pth
_base_ = ['../_base_/models/segformer_mit-b0_synthetic.py',
          '../_base_/schedules/synthetic_warmup.py']
model = dict(
    _scope_='tta_seg',  # the mmseg:: base tags the model 'mmseg'
    type='ViDASegmentor',
    rank_low=1,
    rank_high=128,
    vida_targets=None,
    data_preprocessor=dict(size={{_base_.crop_size}}))
load_from = {{_base_.source_checkpoint}}
optim_wrapper = dict(optimizer=dict(lr=2e-4))
