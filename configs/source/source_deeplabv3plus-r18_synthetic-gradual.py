# Source (no adaptation) on the embedded benchmark's gradual stream.
_base_ = [
    '../_base_/models/deeplabv3plus_r18_synthetic.py', '../_base_/streams/synthetic_gradual.py',
    '../_base_/default_runtime.py'
]
adapter = dict(type='Source')
