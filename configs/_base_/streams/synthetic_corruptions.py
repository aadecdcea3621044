# Embedded corruption benchmark ("synthetic-C"): the first 50 of the 100
# generated clean Cityscapes-like val images, corrupted by each of the 15
# ImageNet-C corruptions (Hendrycks & Dietterich, ICLR 2019) at severity 5,
# one domain per corruption in the standard order, 1 round, no reset,
# batch 1 (the ImageNet-C protocol of CoTTA and TENT, on segmentation).
# The Corruption transform (tta_seg/datasets/corruptions.py) works at the
# generated 512x256 before the resize to 256x128; predictions are scored at
# 512x256. Each image's corruption noise is fixed by corruption_seed, the
# corruption and the file name. The clean split after the round is the
# forgetting check. Generated on first use by tools/test_tta.py; move the
# data with --data-root PATH (see synthetic_3rounds.py).
data_roots = dict(synthetic='synthetic')
synthetic_benchmark = dict(root=data_roots['synthetic'])
# the 15 of tta_seg.datasets.corruptions.CORRUPTIONS, in that order
corruptions = [
    'gaussian_noise', 'shot_noise', 'impulse_noise', 'defocus_blur',
    'glass_blur', 'motion_blur', 'zoom_blur', 'snow', 'frost', 'fog',
    'brightness', 'contrast', 'elastic_transform', 'pixelate',
    'jpeg_compression'
]
severity = 5
corruption_seed = 0
test_pipeline = [
    dict(type='LoadCheckedImage'),
    dict(type='Resize', scale=(256, 128), keep_ratio=True),
    dict(type='LoadCheckedAnnotations'),
    dict(type='PackSegInputs')
]
# 15 x 50 = 750 steps keep every method's CPU run within minutes
clean_val = dict(
    type='CityscapesDataset',
    data_root=data_roots['synthetic'] + '/cityscapes',
    indices=50,
    data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
    pipeline=test_pipeline)
test_cfg = dict(
    type='ContinualTestLoop',
    rounds=1,
    reset='never',
    domains=[
        dict(name=name, dataset=dict(clean_val, pipeline=[
            test_pipeline[0],
            dict(type='Corruption', corruption=name, severity=severity,
                 seed=corruption_seed), *test_pipeline[1:]]))
        for name in corruptions
    ],
    source=dict(name='source', dataset=clean_val))
