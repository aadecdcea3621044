# Source on the 100 clean val images: the clean-val mIoU of the shipped
# model's .summary.json (configs/_base_/streams/synthetic_clean_val.py).
_base_ = [
    '../_base_/models/deeplabv3plus_r18_synthetic.py', '../_base_/streams/synthetic_clean_val.py',
    '../_base_/default_runtime.py'
]
adapter = dict(type='Source')
