_base_ = [
    '../_base_/models/deeplabv3plus_r18_synthetic.py', '../_base_/streams/synthetic_3rounds.py',
    '../_base_/default_runtime.py',
    '../_base_/adapters/diga.py'
]
# DIGA (CVPR 2023), backward-free: the official hyper-parameters
# (configs/model/diga.yaml of github.com/Waybaba/DIGA).
