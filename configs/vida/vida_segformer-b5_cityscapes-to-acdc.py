_base_ = [
    '../_base_/models/segformer_mit-b5_cityscapes.py',
    '../_base_/streams/acdc_10rounds.py',
    '../_base_/default_runtime.py',
    '../_base_/adapters/vida.py'
]
# ViDA (ICLR 2024) on Cityscapes -> ACDC with SegFormer-B5: adapters on the
# q/k/v/output projections of every MiT attention. The paper warms the
# adapters up on the source data; without a Cityscapes warm-up checkpoint
# they start at the official initialisation (= the source model): pass one
# with --cfg-options adapter.vida_checkpoint=... (same ranks and targets).
