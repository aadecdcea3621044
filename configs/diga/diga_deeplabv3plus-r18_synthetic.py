_base_ = [
    '../_base_/models/deeplabv3plus_r18_synthetic.py', '../_base_/streams/synthetic_3rounds.py',
    '../_base_/default_runtime.py'
]
# DIGA (CVPR 2023), backward-free: the official hyper-parameters
# (configs/model/diga.yaml of github.com/Waybaba/DIGA).
adapter = dict(
    type='DIGA',
    bn_lambda=0.8,
    proto_conf_threshold=0.9,
    proto_rate=0.1,
    running_weight=0.8,
    proto_weight=0.8,
    classifier_name='decode_head.conv_seg',
    optim_wrapper=None)
