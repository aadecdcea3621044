# Every method on the embedded benchmark (tools/run_all.py is this sweep
# with filters): both models, the fixed stream, one seed by default.
#   python tools/sweep.py configs/sweeps/embedded.py --seeds 0 1 2 \
#       --streams random
r18 = 'deeplabv3plus-r18_synthetic'
b0 = 'segformer-b0_synthetic'
sweep = dict(
    work_root='work_dirs/sweeps/embedded',
    configs=dict(
        r18_source=f'configs/source/source_{r18}.py',
        r18_bn_adapt=f'configs/bn_adapt/bn-adapt_{r18}.py',
        r18_tent=f'configs/tent/tent_{r18}.py',
        r18_tent_original=f'configs/tent/tent-original_{r18}.py',
        r18_cotta=f'configs/cotta/cotta_{r18}.py',
        r18_ecotta=f'configs/ecotta/ecotta_{r18}.py',
        r18_diga=f'configs/diga/diga_{r18}.py',
        r18_sar=f'configs/sar/sar_{r18}.py',
        r18_gprebn=f'configs/gprebn/gprebn_{r18}.py',
        r18_vida=f'configs/vida/vida_{r18}.py',
        r18_svdp=f'configs/svdp/svdp_{r18}.py',
        r18_hybrid_tta=f'configs/hybrid_tta/hybrid-tta_{r18}.py',
        # the same model trained with SelfNorm/CrossNorm
        r18_sncn_source='configs/sncn/'
        'source_deeplabv3plus-r18-sncn_synthetic.py',
        r18_sncn_tent='configs/sncn/tent_deeplabv3plus-r18-sncn_synthetic.py',
        b0_source=f'configs/source/source_{b0}.py',
        b0_bn_adapt=f'configs/bn_adapt/bn-adapt_{b0}.py',
        b0_tent=f'configs/tent/tent_{b0}.py',
        b0_cotta=f'configs/cotta/cotta_{b0}.py',
        b0_ecotta=f'configs/ecotta/ecotta_{b0}.py',
        b0_diga=f'configs/diga/diga_{b0}.py',
        b0_sar=f'configs/sar/sar_{b0}.py',
        b0_vida=f'configs/vida/vida_{b0}.py',
        b0_svdp=f'configs/svdp/svdp_{b0}.py',
        b0_hybrid_tta=f'configs/hybrid_tta/hybrid-tta_{b0}.py',
    ),
    streams=dict(fixed={}),
    seeds=[0])
