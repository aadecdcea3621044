# Cityscapes-C on your Cityscapes val: the 500 val images corrupted by each
# of the 15 ImageNet-C corruptions (Hendrycks & Dietterich, ICLR 2019) at
# severity 5, one domain per corruption in the standard order, 1 round, no
# reset, batch 1. The Corruption transform (tta_seg/datasets/corruptions.py)
# works at 2048x1024 (corruptions are defined at the original resolution),
# then the input is resized to 1024x512 (keep ratio) as the ACDC protocol's
# Cityscapes val (acdc_10rounds.py); predictions are scored at 2048x1024.
# Published Cityscapes-C sets choose their corruptions differently: compare
# only with numbers of the same definition. Forgetting check on the clean
# val after the round is off by default (enable with --cfg-options
# test_cfg.check_forgetting=True).
# Named data root: relative roots live in the data home ($TTA_SEG_DATA, else
# <repository>/data). Point it at your copy with
# --data-root cityscapes=/path/to/cityscapes
data_roots = dict(cityscapes='cityscapes')
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
    dict(type='Resize', scale=(1024, 512), keep_ratio=True),
    dict(type='LoadCheckedAnnotations'),
    dict(type='PackSegInputs')
]
cityscapes_val = dict(
    type='CityscapesDataset',
    data_root=data_roots['cityscapes'],
    data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
    pipeline=test_pipeline)
test_cfg = dict(
    type='ContinualTestLoop',
    rounds=1,
    reset='never',
    domains=[
        dict(name=name, dataset=dict(cityscapes_val, pipeline=[
            test_pipeline[0],
            dict(type='Corruption', corruption=name, severity=severity,
                 seed=corruption_seed), *test_pipeline[1:]]))
        for name in corruptions
    ],
    source=dict(name='source', dataset=cityscapes_val),
    check_forgetting=False)
