# SAR (Niu et al., ICLR 2023) with the official code's hyper-parameters:
# margin 0.4 ln C, SAM rho 0.05, SGD momentum 0.9, loss EMA 0.9, model
# recovery below 0.2 nats, BN (SegFormer's decode head) with test-batch
# statistics. lr: SAR's rule for ViT-B (LayerNorm) is 0.001 * bs / 64,
# doubled at batch 1, i.e. 3.125e-5 at batch 1 and 1e-3 at batch 64; used
# here: 1e-3 (a segmentation loss averages every pixel of the image, far
# less noisy than the one sample the batch-1 rule was made for; not tuned).
# See tta_seg/adapters/sar.py for the recovery calibration.
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
            base_optimizer=dict(type='SGD', lr=1e-3, momentum=0.9))))
