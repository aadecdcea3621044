# DIGA (CVPR 2023), backward-free, with the official hyper-parameters
# (configs/model/diga.yaml of github.com/Waybaba/DIGA): BN statistics
# 0.8 source + 0.2 instance, prototypes from pixels with max softmax >= 0.9,
# running prototypes updated at rate 0.1, prototype prediction 0.8 running +
# 0.2 instance, output 0.8 prototype + 0.2 model softmax. Batch 1 (DIGA's
# per-instance statistics).
adapter = dict(
    type='DIGA',
    bn_lambda=0.8,
    proto_conf_threshold=0.9,
    proto_rate=0.1,
    running_weight=0.8,
    proto_weight=0.8,
    classifier_name='decode_head.conv_seg',
    optim_wrapper=None)
