_base_ = [
    '../_base_/models/deeplabv3plus_r50_cityscapes.py',
    '../_base_/streams/acdc_10rounds.py',
    '../_base_/default_runtime.py',
    '../_base_/adapters/vida.py'
]
# ViDA (ICLR 2024) with a CNN: adapters beside the 1x1/3x3 convs of the
# ResNet-50 bottlenecks (the paper injects into "linear or Conv layers").
# Without a Cityscapes warm-up checkpoint the adapters start at the official
# initialisation (= the source model): pass one with
# --cfg-options adapter.vida_checkpoint=... (same ranks and targets).
