_base_ = [
    '../_base_/models/deeplabv3plus_r18_synthetic.py',
    '../_base_/streams/synthetic_3rounds.py',
    '../_base_/default_runtime.py',
    '../_base_/adapters/ecotta.py'
]
# EcoTTA (Song et al., CVPR 2023): frozen source + meta blocks after every
# ResNet stage (K=4), warmed up on source data by
# ecotta-warmup_deeplabv3plus-r18_synthetic.py. Entropy of pixels below
# 0.4 ln C + 0.5 * self-distilled L1 regulariser. Adam lr 1e-4: no
# segmentation lr of the paper verified (not tuned).
adapter = dict(
    meta_checkpoint='checkpoints/synthetic/'
    'ecotta-warmup_deeplabv3plus-r18_synthetic.pth')
