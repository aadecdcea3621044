# Clean validation of an embedded source model: the 100 generated clean
# Cityscapes-like val images as one domain, 1 round, batch 1, no
# forgetting check. The clean-val mIoU in each shipped model's
# .summary.json was measured with this stream and Source, on the float16
# file itself (the shipped-models table in docs/benchmarks.md), e.g.
# python tools/test_tta.py configs/source/source_deeplabv3plus-r18_synthetic-clean-val.py
# Same resolution as the weather stream: 512x256 images, models see
# 256x128, predictions scored at 512x256.
data_roots = dict(synthetic='synthetic')
synthetic_benchmark = dict(root=data_roots['synthetic'])
test_pipeline = [
    dict(type='LoadCheckedImage'),
    dict(type='Resize', scale=(256, 128), keep_ratio=True),
    dict(type='LoadCheckedAnnotations'),
    dict(type='PackSegInputs')
]
test_cfg = dict(
    type='ContinualTestLoop',
    rounds=1,
    reset='never',
    domains=[
        dict(
            name='clean_val',
            dataset=dict(
                type='CityscapesDataset',
                data_root=data_roots['synthetic'] + '/cityscapes',
                data_prefix=dict(
                    img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
                pipeline=test_pipeline)),
    ],
    source=None)
