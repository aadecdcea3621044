_base_ = [
    '../_base_/models/segformer_mit-b5_cityscapes.py',
    '../_base_/streams/acdc_10rounds.py',
    '../_base_/default_runtime.py',
    '../_base_/adapters/diga.py'
]
# DIGA on SegFormer-B5: its only BN is in the decode head, so DIGA is almost
# only its prototype classifier here (the paper evaluates BN backbones).
# Official hyper-parameters as the DeepLabV3+ R50 config.
