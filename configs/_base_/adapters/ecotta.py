# EcoTTA (Song et al., CVPR 2023): frozen source + a meta block after every
# encoder stage (K=4; the paper's denser-in-shallow K=5 for ResNets would be
# partition=('layer1', 'layer2.1', 'layer2', 'layer3', 'layer4')). Entropy
# of pixels below 0.4 ln C + 0.5 * self-distilled L1 regulariser. Adam lr
# 1e-4: no segmentation lr of the paper verified (not tuned). Without a
# warm-up checkpoint (meta_checkpoint, same partition) the meta blocks start
# as identities (= the source model).
adapter = dict(
    type='EcoTTA',
    partition=None,
    meta_checkpoint=None,
    entropy_margin=0.4,
    reg_weight=0.5,
    batch_stats=False,
    optim_wrapper=dict(optimizer=dict(type='Adam', lr=1e-4)))
