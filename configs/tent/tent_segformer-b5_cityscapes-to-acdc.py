_base_ = [
    '../_base_/models/segformer_mit-b5_cityscapes.py', '../_base_/streams/acdc_10rounds.py',
    '../_base_/default_runtime.py'
]
adapter = dict(
    type='TENT',
    variant='cotta',
    optim_wrapper=dict(optimizer=dict(type='Adam', lr=6e-5 / 8)))
