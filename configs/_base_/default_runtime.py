# Runtime of every tta_seg test-time adaptation config.
default_scope = 'tta_seg'
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))
log_level = 'INFO'
randomness = dict(seed=0, deterministic=False)
# The continual loop reports progress and metrics itself; mmengine's
# train-oriented default hooks are switched off.
default_hooks = dict(
    runtime_info=None, timer=None, logger=None, param_scheduler=None,
    checkpoint=None, sampler_seed=None)
custom_hooks = []
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False))
test_evaluator = dict(type='StreamIoUMetric')
