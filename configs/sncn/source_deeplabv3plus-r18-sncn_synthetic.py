_base_ = [
    './deeplabv3plus_r18-sncn_synthetic.py', '../_base_/streams/synthetic_3rounds.py',
    '../_base_/default_runtime.py'
]
# The SelfNorm/CrossNorm source model without adaptation (SelfNorm active).
adapter = dict(type='Source')
