_base_ = [
    '../_base_/models/segformer_mit-b0_synthetic.py',
    '../_base_/streams/synthetic_3rounds.py',
    '../_base_/default_runtime.py',
    '../_base_/adapters/vida.py'
]
# ViDA (ICLR 2024): adapters on the q/k/v/output projections of every MiT
# attention, warmed up on the source data by
# vida-warmup_segformer-b0_synthetic.py (same ranks and targets).
adapter = dict(
    vida_checkpoint='checkpoints/synthetic/'
    'vida-warmup_segformer-b0_synthetic.pth')
