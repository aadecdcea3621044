# SAR (Niu et al., ICLR 2023) with the official code's hyper-parameters:
# margin 0.4 ln C, SAM rho 0.05, SGD momentum 0.9, loss EMA 0.9, model
# recovery below 0.2 nats, BN with test-batch statistics. lr: SAR's rule for
# ResNet-50 (BN/GN) is 0.00025 * 2 * bs / 64 below batch 32, doubled again
# at batch 1, i.e. 1.5625e-5 at batch 1 and 2.5e-4 from batch 32; used here:
# 2.5e-4 (a segmentation loss averages every pixel of the image, far less
# noisy than the one sample the batch-1 rule was made for; not tuned). See
# tta_seg/adapters/sar.py for the recovery calibration.
adapter = dict(
    type='SAR',
    margin_factor=0.4,
    reset_constant=0.2,
    ema_decay=0.9,
    norm_stats='batch',
    optim_wrapper=dict(
        optimizer=dict(
            type='SAM',
            rho=0.05,
            base_optimizer=dict(type='SGD', lr=2.5e-4, momentum=0.9))))
