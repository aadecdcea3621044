# SAR (Niu et al., ICLR 2023) with the official code's hyper-parameters:
# margin 0.4 ln C, SAM rho 0.05, SGD momentum 0.9, loss EMA 0.9. LayerNorm
# transformers use SAR's batch-64 ViT lr 1e-3 (a segmentation loss averages
# every pixel of the image, far less noisy than the one sample its
# batch-size-1 rule was made for; not tuned). reset_constant 0.02 nats: a
# segmentation choice, see tta_seg/adapters/sar.py.
adapter = dict(
    type='SAR',
    margin_factor=0.4,
    reset_constant=0.02,
    ema_decay=0.9,
    optim_wrapper=dict(
        optimizer=dict(
            type='SAM',
            rho=0.05,
            base_optimizer=dict(type='SGD', lr=1e-3, momentum=0.9))))
