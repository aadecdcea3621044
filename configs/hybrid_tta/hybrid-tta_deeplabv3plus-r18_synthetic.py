_base_ = [
    '../_base_/models/deeplabv3plus_r18_synthetic.py',
    '../_base_/streams/synthetic_3rounds.py',
    '../_base_/default_runtime.py',
    '../_base_/adapters/hybrid_tta.py'
]
# Hybrid-TTA on the embedded benchmark. ResNet: adapters parallel to each
# residual block, pixel-space masking (see the adapter's docstring); the
# reconstruction decoder at the width of the embedded SegFormer head.
adapter = dict(decoder_channels=256)
