# The tuned-baseline preset: every embedded method's learning rate chosen
# on the validation stream (the generated val split, 20 images per
# condition, 3 rounds, disjoint from the test images) and reported on the
# test stream (the 3-round fixed-order stream of the method configs).
# The sweep runs the validation trials first, then on the test stream the
# chosen lr and the faithful one (the config's own: faithful=True). The
# grid is the faithful default x {0.1, 1, 10}; CoTTA's holds 3e-4, the
# value users report CoTTA competitive at (vida#4, DAT#4). --write-tuned
# stores the chosen values as configs next to the faithful ones
# (configs/<method>/*-tuned_*.py); the sweep's tuned.md compares the two
# (docs/results/tuned_embedded.md).
#   tta-seg sweep configs/sweeps/lr_embedded.py --num-cpus 2 --write-tuned
# Methods are listed cheapest first, so a partial run (--only) covers the
# most methods per hour.
r18 = 'deeplabv3plus-r18_synthetic'
b0 = 'segformer-b0_synthetic'
lr = 'adapter.optim_wrapper.optimizer.lr'
sam_lr = 'adapter.optim_wrapper.optimizer.base_optimizer.lr'


def around(default, key=lr):
    """The grid default x {0.1, 1, 10}, rounded to 3 significant digits."""
    return {key: [float(f'{default * f:.3g}') for f in (0.1, 1, 10)]}


def entry(name, model, default, key=lr):
    """``configs/<name>_<model>.py`` with the grid around its rate."""
    return dict(config=f'configs/{name}_{model}.py', grid=around(default, key))


# 7.5e-6 is CoTTA's published ACDC value
cotta_grid = {lr: [7.5e-6, 7.5e-5, 3e-4]}
sweep = dict(
    work_root='work_dirs/sweeps/lr_embedded',
    configs=dict(
        r18_tent=entry('tent/tent', r18, 7.5e-6),
        r18_tent_original=entry('tent/tent-original', r18, 1e-4),
        r18_gprebn=entry('gprebn/gprebn', r18, 1e-4),
        r18_ecotta=entry('ecotta/ecotta', r18, 1e-4),
        r18_sar=entry('sar/sar', r18, 2.5e-4, sam_lr),
        r18_hybrid_tta=entry('hybrid_tta/hybrid-tta', r18, 7.5e-5),
        b0_tent=entry('tent/tent', b0, 7.5e-6),
        b0_ecotta=entry('ecotta/ecotta', b0, 1e-4),
        b0_sar=entry('sar/sar', b0, 1e-3, sam_lr),
        b0_hybrid_tta=entry('hybrid_tta/hybrid-tta', b0, 7.5e-5),
        r18_vida=entry('vida/vida', r18, 1e-4),
        b0_vida=entry('vida/vida', b0, 1e-4),
        r18_cotta=dict(config=f'configs/cotta/cotta_{r18}.py',
                       grid=cotta_grid),
        b0_cotta=dict(config=f'configs/cotta/cotta_{b0}.py', grid=cotta_grid),
        r18_svdp=entry('svdp/svdp', r18, 1e-4),
        b0_svdp=entry('svdp/svdp', b0, 1e-4),
    ),
    streams=dict(
        val=dict(stream='configs/_base_/streams/synthetic_3rounds_val.py'),
        test={}),
    seeds=[0],
    selection=dict(val='val', test='test', faithful=True))
