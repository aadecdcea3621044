from .distill import DistillEncoderDecoder, pixel_distillation_loss
from .ecotta import EcoTTASegmentor, MetaBlock
from .gprebn import GpreBNLayer
from .losses import entropy_map, self_cross_entropy, softmax_entropy
from .norm import (NORM_TYPES, MixStatBN, freeze_all_but, norm_affine_params,
                   replace_norm_layers)
from .selfnorm_crossnorm import CrossNorm, ResNetV1cSNCN, SelfNorm
from .train_losses import WeightedCrossEntropyLoss

__all__ = ['NORM_TYPES', 'MixStatBN', 'freeze_all_but', 'norm_affine_params',
           'replace_norm_layers', 'entropy_map', 'self_cross_entropy',
           'softmax_entropy', 'GpreBNLayer', 'CrossNorm', 'ResNetV1cSNCN',
           'SelfNorm', 'EcoTTASegmentor', 'MetaBlock', 'WeightedCrossEntropyLoss',
           'DistillEncoderDecoder', 'pixel_distillation_loss']
