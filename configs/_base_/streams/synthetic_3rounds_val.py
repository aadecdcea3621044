# Validation stream of the embedded benchmark, for choosing
# hyper-parameters (tools/sweep.py --val-stream): the generated ACDC-like
# val split (20 images per condition, disjoint from the test stream's train
# images), fog -> night -> rain -> snow, 3 rounds, no reset, batch 1; the
# source split and pipeline of synthetic_3rounds.py.
data_roots = dict(synthetic='synthetic')
synthetic_benchmark = dict(root=data_roots['synthetic'])
test_pipeline = [
    dict(type='LoadCheckedImage'),
    dict(type='Resize', scale=(256, 128), keep_ratio=True),
    dict(type='LoadCheckedAnnotations'),
    dict(type='PackSegInputs')
]
acdc_val = dict(
    type='ACDCDataset', data_root=data_roots['synthetic'] + '/acdc',
    split='val', pipeline=test_pipeline)
test_cfg = dict(
    type='ContinualTestLoop',
    rounds=3,
    reset='never',
    domains=[
        dict(name='fog', dataset=dict(acdc_val, condition='fog')),
        dict(name='night', dataset=dict(acdc_val, condition='night')),
        dict(name='rain', dataset=dict(acdc_val, condition='rain')),
        dict(name='snow', dataset=dict(acdc_val, condition='snow')),
    ],
    source=dict(
        name='source',
        dataset=dict(
            type='CityscapesDataset',
            data_root=data_roots['synthetic'] + '/cityscapes',
            indices=50,
            data_prefix=dict(
                img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
            pipeline=test_pipeline)))
