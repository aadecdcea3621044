_base_ = [
    '../_base_/models/segformer_mit-b5_cityscapes.py',
    '../_base_/streams/acdc_10rounds.py',
    '../_base_/default_runtime.py',
    '../_base_/adapters/hybrid_tta.py'
]
# Hybrid-TTA (ICCV 2025) on the Cityscapes -> ACDC protocol, 10 rounds,
# single scale (the paper's 62.2 mean mIoU); a truly continual run. The
# official code's restarts at every domain boundary:
#   --cfg-options adapter.restart_every=400
