# CoTTA (CVPR 2022) with the published hyper-parameters: EMA teacher 0.999,
# anchor gate 0.69 (max softmax of the source model at scale 1.0),
# stochastic restoration 0.01, 14 teacher views (7 scales x flip), hard
# pseudo labels with the decode head's own loss, Adam lr 6e-5 / 8. Options:
# fast_views (views batched with their flips), amp (teacher/anchor autocast),
# view_batch, batch_windows / window_batch (slide inference: the windows of
# all views in batches), loss='soft' (the paper's soft cross-entropy). On a
# CPU the views dominate the cost; a reduced set such as
# scales=(0.75, 1.0, 1.5) can be tried from the command line (a deviation:
# report it).
adapter = dict(
    type='CoTTA',
    alpha_teacher=0.999,
    anchor_threshold=0.69,
    restore_prob=0.01,
    scales=(0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0),
    flip=True,
    loss='hard',
    optim_wrapper=dict(optimizer=dict(type='Adam', lr=6e-5 / 8)))
