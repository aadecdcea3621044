# Source (no adaptation) on the embedded corruption stream: 15 ImageNet-C
# corruptions at severity 5 of the clean synthetic val split.
_base_ = [
    '../_base_/models/deeplabv3plus_r18_synthetic.py',
    '../_base_/streams/synthetic_corruptions.py',
    '../_base_/default_runtime.py'
]
adapter = dict(type='Source')
