# Embedded benchmark, gradual shift: the stream of synthetic_3rounds.py
# (fog -> night -> rain -> snow, first 50 train images per condition,
# 3 rounds, no reset, batch 1) with the weather rendered in the pipeline
# from the clear twins (ACDCDataset use_ref=True + SyntheticWeather) at a
# severity that rises and falls within each condition: a triangle over the
# condition's images from level 1 to level 5 and back (CoTTA's gradual
# setting; level L renders at L/5 of the generation severity, so level 5
# is the fixed stream's image). The condition changes at level 1.
# Generated on first use by tools/test_tta.py. Images are 512x256; models
# see them at 256x128, predictions are scored at 512x256.
data_roots = dict(synthetic='synthetic')
# the weather's seed is the benchmark's: the same droplets, flakes and lamps
# as in the generated images (change both together)
synthetic_benchmark = dict(root=data_roots['synthetic'], seed=0)
images_per_condition = 50
severity_schedule = dict(
    type='triangle', low=1, high=5, num_images=images_per_condition)
load = [dict(type='LoadCheckedImage')]
to_model = [
    dict(type='Resize', scale=(256, 128), keep_ratio=True),
    dict(type='LoadCheckedAnnotations'),
    dict(type='PackSegInputs')
]
weather = dict(
    type='SyntheticWeather', seed=synthetic_benchmark['seed'], schedule=severity_schedule)
acdc_twins = dict(
    type='ACDCDataset', data_root=data_roots['synthetic'] + '/acdc', split='train',
    use_ref=True, max_images=images_per_condition)
test_cfg = dict(
    type='ContinualTestLoop',
    rounds=3,
    reset='never',
    domains=[
        dict(name='fog', dataset=dict(acdc_twins, condition='fog', pipeline=load + [
            dict(weather, condition='fog')] + to_model)),
        dict(name='night', dataset=dict(acdc_twins, condition='night', pipeline=load + [
            dict(weather, condition='night')] + to_model)),
        dict(name='rain', dataset=dict(acdc_twins, condition='rain', pipeline=load + [
            dict(weather, condition='rain')] + to_model)),
        dict(name='snow', dataset=dict(acdc_twins, condition='snow', pipeline=load + [
            dict(weather, condition='snow')] + to_model)),
    ],
    source=dict(
        name='source',
        dataset=dict(
            type='CityscapesDataset',
            data_root=data_roots['synthetic'] + '/cityscapes',
            indices=50,  # the first 50 val images keep the check cheap
            data_prefix=dict(
                img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
            pipeline=load + to_model)))
