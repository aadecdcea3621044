# Learning-rate sweep on the embedded benchmark (DeepLabV3+ R18): each
# method's lr chosen on the validation stream (the generated val split, 20
# images per condition, 3 rounds) and reported on the test stream (the
# 3-round fixed-order stream of the method configs). tools/sweep.py runs
# the validation trials first, then only the chosen lr on the test stream.
#   python tools/sweep.py configs/sweeps/lr_embedded.py --num-cpus 2
r18 = 'deeplabv3plus-r18_synthetic'
lr = 'adapter.optim_wrapper.optimizer.lr'
sweep = dict(
    work_root='work_dirs/sweeps/lr_embedded',
    configs=dict(
        r18_tent_original=dict(config=f'configs/tent/tent-original_{r18}.py',
                               grid={lr: [1e-5, 1e-4, 1e-3]}),
        r18_sar=dict(config=f'configs/sar/sar_{r18}.py',
                     grid={'adapter.optim_wrapper.optimizer.base_optimizer.lr':
                           [2.5e-5, 2.5e-4, 2.5e-3]}),
        r18_ecotta=dict(config=f'configs/ecotta/ecotta_{r18}.py',
                        grid={lr: [1e-5, 1e-4, 1e-3]}),
        # 7.5e-6 is CoTTA's published ACDC value; 3e-4 the value users
        # report CoTTA to be competitive at
        r18_cotta=dict(config=f'configs/cotta/cotta_{r18}.py',
                       grid={lr: [7.5e-6, 7.5e-5, 3e-4]}),
    ),
    streams=dict(
        val=dict(stream='configs/_base_/streams/synthetic_3rounds_val.py'),
        test={}),
    seeds=[0],
    selection=dict(val='val', test='test'))
