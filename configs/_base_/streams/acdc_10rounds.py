# The CoTTA protocol (CVPR 2022): Cityscapes-trained source -> ACDC train
# split, 400 images per condition, fog -> night -> rain -> snow, 10 rounds,
# no reset, batch 1, no shuffle. Input resized from 1920x1080 to 960x540
# (keep ratio); predictions scored at 1920x1080 (labels are not resized).
# Forgetting check on Cityscapes val after each round (off by default:
# enable with --cfg-options test_cfg.check_forgetting=True).
# Named data roots: relative roots live in the data home ($TTA_SEG_DATA, else
# <repository>/data). Point them at your copies with
# --data-root acdc=/path/to/ACDC --data-root cityscapes=/path/to/cityscapes
data_roots = dict(acdc='acdc', cityscapes='cityscapes')
test_pipeline = [
    dict(type='LoadCheckedImage'),
    dict(type='Resize', scale=(960, 540), keep_ratio=True),
    dict(type='LoadCheckedAnnotations'),
    dict(type='PackSegInputs')
]
acdc = dict(
    type='ACDCDataset', data_root=data_roots['acdc'], split='train', max_images=400,
    pipeline=test_pipeline)
cityscapes_val = dict(
    name='source',
    dataset=dict(
        type='CityscapesDataset',
        data_root=data_roots['cityscapes'],
        data_prefix=dict(
            img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
        pipeline=[
            dict(type='LoadCheckedImage'),
            dict(type='Resize', scale=(1024, 512), keep_ratio=True),
            dict(type='LoadCheckedAnnotations'),
            dict(type='PackSegInputs')
        ]))
test_cfg = dict(
    type='ContinualTestLoop',
    rounds=10,
    reset='never',
    domains=[
        dict(name='fog', dataset=dict(acdc, condition='fog')),
        dict(name='night', dataset=dict(acdc, condition='night')),
        dict(name='rain', dataset=dict(acdc, condition='rain')),
        dict(name='snow', dataset=dict(acdc, condition='snow')),
    ],
    source=cityscapes_val,
    check_forgetting=False)
