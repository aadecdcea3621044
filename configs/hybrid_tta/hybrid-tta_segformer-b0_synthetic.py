_base_ = [
    '../_base_/models/segformer_mit-b0_synthetic.py',
    '../_base_/streams/synthetic_3rounds.py',
    '../_base_/default_runtime.py',
    '../_base_/adapters/hybrid_tta.py'
]
# Hybrid-TTA on the embedded benchmark (the official MiT placement); the
# reconstruction decoder at the width of the SegFormer head (256).
adapter = dict(decoder_channels=256)
