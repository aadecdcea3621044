# Embedded benchmark: synthetic Cityscapes-like source -> synthetic ACDC-like
# fog -> night -> rain -> snow (the ACDC layout's train split), 3 rounds, no
# reset, batch 1. Generated on first use by tools/test_tta.py. Images are
# 512x256; models see them at 256x128, predictions are scored at 512x256.
# Named data root: relative roots live in the data home ($TTA_SEG_DATA, else
# <repository>/data); move it with --data-root PATH (or
# --cfg-options data_roots.synthetic=PATH).
data_roots = dict(synthetic='synthetic')
synthetic_benchmark = dict(root=data_roots['synthetic'])
test_pipeline = [
    dict(type='LoadCheckedImage'),
    dict(type='Resize', scale=(256, 128), keep_ratio=True),
    dict(type='LoadCheckedAnnotations'),
    dict(type='PackSegInputs')
]
# the first 50 of the 100 generated train images per condition: 600 steps
# over 3 rounds keep every method's CPU run within minutes
acdc = dict(
    type='ACDCDataset', data_root=data_roots['synthetic'] + '/acdc', split='train',
    max_images=50, pipeline=test_pipeline)
test_cfg = dict(
    type='ContinualTestLoop',
    rounds=3,
    reset='never',
    domains=[
        dict(name='fog', dataset=dict(acdc, condition='fog')),
        dict(name='night', dataset=dict(acdc, condition='night')),
        dict(name='rain', dataset=dict(acdc, condition='rain')),
        dict(name='snow', dataset=dict(acdc, condition='snow')),
    ],
    source=dict(
        name='source',
        dataset=dict(
            type='CityscapesDataset',
            data_root=data_roots['synthetic'] + '/cityscapes',
            indices=50,  # the first 50 val images keep the check cheap
            data_prefix=dict(
                img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
            pipeline=test_pipeline)))
