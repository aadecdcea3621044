# TENT as in the paper: entropy, BN affine only, test-batch BN statistics
# (Adam 1e-4). Dropout stays off (train_mode=False): official TENT's
# model.train() has no dropout to switch on in its models, mmseg heads do;
# train_mode=True is the literal model.train() (tta_seg/adapters/tent.py).
adapter = dict(
    type='TENT',
    variant='original',
    train_mode=False,
    optim_wrapper=dict(optimizer=dict(type='Adam', lr=1e-4)))
