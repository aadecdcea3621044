_base_ = [
    '../_base_/models/segformer_mit-b5_cityscapes.py',
    '../_base_/streams/acdc_10rounds.py',
    '../_base_/default_runtime.py'
]
# DIGA on SegFormer-B5: its only BN is in the decode head, so DIGA is almost
# only its prototype classifier here (the paper evaluates BN backbones).
# Official hyper-parameters as the DeepLabV3+ R50 config.
adapter = dict(
    type='DIGA',
    bn_lambda=0.8,
    proto_conf_threshold=0.9,
    proto_rate=0.1,
    running_weight=0.8,
    proto_weight=0.8,
    classifier_name='decode_head.conv_seg',
    optim_wrapper=None)
