# The stream protocols on the embedded benchmark (DeepLabV3+ R18 and
# SegFormer-B0): every method under the fixed order, a random order per
# round, mixed domains, the time budget (each method's own relative cost
# from the 2-core CPU benchmarks in docs/results/; the row of the run's
# config) and the gradual shift (severity 1 -> 5 -> 1 within each
# condition); and, at batch 4, the fixed order against mixed domains
# (batch statistics over images of different domains).
#   python tools/sweep.py configs/sweeps/protocols_embedded.py --num-cpus 2
r18 = 'deeplabv3plus-r18_synthetic'
b0 = 'segformer-b0_synthetic'
sweep = dict(
    work_root='work_dirs/sweeps/protocols_embedded',
    configs=dict(
        r18_source=f'configs/source/source_{r18}.py',
        r18_bn_adapt=f'configs/bn_adapt/bn-adapt_{r18}.py',
        r18_tent=f'configs/tent/tent_{r18}.py',
        r18_tent_original=f'configs/tent/tent-original_{r18}.py',
        r18_cotta=f'configs/cotta/cotta_{r18}.py',
        r18_ecotta=f'configs/ecotta/ecotta_{r18}.py',
        r18_diga=f'configs/diga/diga_{r18}.py',
        r18_sar=f'configs/sar/sar_{r18}.py',
        b0_source=f'configs/source/source_{b0}.py',
        b0_bn_adapt=f'configs/bn_adapt/bn-adapt_{b0}.py',
        b0_tent=f'configs/tent/tent_{b0}.py',
        b0_cotta=f'configs/cotta/cotta_{b0}.py',
        b0_ecotta=f'configs/ecotta/ecotta_{b0}.py',
        b0_diga=f'configs/diga/diga_{b0}.py',
        b0_sar=f'configs/sar/sar_{b0}.py',
    ),
    streams=dict(
        fixed={},
        random={'test_cfg.order': 'random'},
        mixed={'test_cfg.mixed': True},
        budget={'test_cfg.time_budget': dict(
            relative_cost=[f'docs/results/benchmark_cpu_{name}.json'
                           for name in ('r18', 'b0', 'b0_bn_adapt')],
            skip_prediction='forward')},
        gradual=dict(stream='configs/_base_/streams/synthetic_gradual.py'),
        # batches of 4: one domain per batch, or domains mixed inside it
        fixed_b4={'test_dataloader.batch_size': 4},
        mixed_b4={'test_cfg.mixed': True, 'test_dataloader.batch_size': 4}),
    seeds=[0])
