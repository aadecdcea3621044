_base_ = [
    '../_base_/models/deeplabv3plus_r50_cityscapes.py', '../_base_/streams/acdc_10rounds.py',
    '../_base_/default_runtime.py',
    '../_base_/adapters/diga.py'
]
# DIGA (CVPR 2023), backward-free: the official hyper-parameters
# (configs/model/diga.yaml of github.com/Waybaba/DIGA); CoTTA's 10-round
# Cityscapes -> ACDC stream, batch 1 (DIGA's per-instance statistics).
