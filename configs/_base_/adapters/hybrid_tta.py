# Hybrid-TTA (ICCV 2025) with the official code's hyper-parameters: adapters
# d -> 5 -> d parallel to every block's MLP, SimMIM masking (32-px patches,
# ratio 0.6, learnable mask token), reconstruction decoder (width 768 for
# SegFormer-B5), L1 on masked pixels x 0.3, EMA teacher 0.999, DDSD over
# the last 10 segmentation losses against tau (EMA 0.999, margin 0.1),
# Adam lr 6e-4 / 8. A truly continual run: restart_every=None (the code
# restarts Adam at every domain boundary: restart_every=400 on ACDC).
adapter = dict(
    type='HybridTTA',
    alpha_teacher=0.999,
    adapter_hidden=5,
    mask_patch=32,
    mask_ratio=0.6,
    recon_weight=0.3,
    decoder_channels=768,
    ddsd_window=10,
    ddsd_momentum=0.999,
    ddsd_margin=0.1,
    restart_every=None,
    optim_wrapper=dict(
        optimizer=dict(type='Adam', lr=6e-4 / 8, betas=(0.9, 0.999))))
