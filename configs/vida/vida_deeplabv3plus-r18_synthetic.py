_base_ = [
    '../_base_/models/deeplabv3plus_r18_synthetic.py',
    '../_base_/streams/synthetic_3rounds.py',
    '../_base_/default_runtime.py',
    '../_base_/adapters/vida.py'
]
# ViDA (ICLR 2024): adapters beside the 16 convs of the ResNet-18 residual
# blocks, warmed up on the source data by
# vida-warmup_deeplabv3plus-r18_synthetic.py (same ranks and targets).
adapter = dict(
    vida_checkpoint='checkpoints/synthetic/'
    'vida-warmup_deeplabv3plus-r18_synthetic.pth')
