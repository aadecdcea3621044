_base_ = [
    '../_base_/models/segformer_mit-b0_synthetic.py',
    '../_base_/streams/synthetic_3rounds.py',
    '../_base_/default_runtime.py',
    '../_base_/adapters/ecotta.py'
]
# EcoTTA with a meta block after every MiT stage (K=4), warmed up by
# ecotta-warmup_segformer-b0_synthetic.py; otherwise as the R18 config.
adapter = dict(
    meta_checkpoint='checkpoints/synthetic/'
    'ecotta-warmup_segformer-b0_synthetic.pth')
