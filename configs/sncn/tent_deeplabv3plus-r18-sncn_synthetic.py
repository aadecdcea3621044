_base_ = [
    './deeplabv3plus_r18-sncn_synthetic.py', '../_base_/streams/synthetic_3rounds.py',
    '../_base_/default_runtime.py',
    '../_base_/adapters/tent.py'
]
# TENT (CoTTA's variant, as configs/tent/) on the SelfNorm/CrossNorm source
# model; SelfNorm's attention is not a norm affine and stays frozen.
