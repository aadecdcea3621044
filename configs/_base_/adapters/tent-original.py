# TENT as in the paper: entropy, BN affine only, test-batch BN statistics
# (Adam 1e-4).
adapter = dict(
    type='TENT',
    variant='original',
    optim_wrapper=dict(optimizer=dict(type='Adam', lr=1e-4)))
