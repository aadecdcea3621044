# TENT as in CoTTA's segmentation code: cross-entropy on the model's own
# argmax, affine parameters of every norm layer, eval mode, Adam 6e-5 / 8.
adapter = dict(
    type='TENT',
    variant='cotta',
    optim_wrapper=dict(optimizer=dict(type='Adam', lr=6e-5 / 8)))
