# ViDA (Liu et al., ICLR 2024): low-rank (r=1) and high-rank (r=128) visual
# domain adapters beside the source layers (MiT: attention q/k/v/out
# projections; ResNet: the convs of the residual blocks), the only
# trainable parameters. EMA teacher 0.999; Homeostatic Knowledge
# Allotment from the teacher's logit variance over 10 augmented views
# (x 0.1, threshold 0.2, official ImageNet code); consistency loss =
# cross-entropy of the student against the teacher's softmax (paper Eq. 6).
# Adam lr 1e-4: no segmentation lr is published (not tuned). Without a
# warm-up checkpoint (vida_checkpoint, same ranks and targets) the adapters
# start at the official initialisation (output = the source model).
adapter = dict(
    type='ViDA',
    rank_low=1,
    rank_high=128,
    vida_targets=None,
    vida_checkpoint=None,
    alpha_teacher=0.999,
    uncertainty_views=10,
    uncertainty_scale=0.1,
    uncertainty_threshold=0.2,
    adaptive_high=True,
    loss='ce',
    restore_prob=0.0,
    optim_wrapper=dict(optimizer=dict(type='Adam', lr=1e-4)))
