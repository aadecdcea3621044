# Class weights of the embedded benchmark's source training (the long
# recipes of configs/source/ and configs/sncn/): ENet's w_c = 1 / ln(1.02 +
# p_c) (Paszke et al., 2016), p_c = the class's share of the labelled train
# pixels, scaled to a pixel-weighted mean of 1. Shares measured on the
# generated train split (%): road 30.594, sidewalk 4.254, building 25.548,
# wall 0.228, fence 0.210, pole 1.534, traffic light 0.080, traffic sign
# 0.243, vegetation 12.815, terrain 1.653, sky 5.204, person 0.511, rider
# 0.241, car 12.598, truck 1.711, bus 2.200, train 0.143, motorcycle 0.144,
# bicycle 0.090. Use as
#   model = dict(decode_head=dict(
#       loss_decode={{_base_.synthetic_class_weighted_loss}}))
# (it replaces the base's loss; mmseg's CrossEntropyLoss(class_weight=...)
# fails on ignored pixels).
synthetic_class_weight = [
    0.43, 2.01, 0.5, 5.55, 5.59, 3.52, 5.94, 5.51, 0.88, 3.41, 1.76, 4.93,
    5.51, 0.9, 3.35, 2.97, 5.76, 5.76, 5.91]
synthetic_class_weighted_loss = dict(
    _delete_=True, type='tta_seg.WeightedCrossEntropyLoss',
    class_weight=synthetic_class_weight)
