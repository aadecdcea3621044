"""EcoTTA: memory-efficient continual TTA by self-distilled meta blocks.

Song et al., "EcoTTA: Memory-Efficient Continual Test-time Adaptation via
Self-distilled Regularization", CVPR 2023. No official code; architecture,
partition and memory handling are in ``tta_seg/models/ecotta.py``.

The source segmentor (an mmseg ``EncoderDecoder`` with a ResNet or MiT
backbone) is rebuilt as :class:`EcoTTASegmentor`: the original network is
frozen and K meta blocks are the only trainable parameters (Adam). Loss of
one batch, on logits (N, C, H, W)::

    L = mean_{p : H(p) < m ln C} H(p)  +  lambda * sum_k mean|x~_k - x_k|

(pixel-wise entropy filter of EATA/EcoTTA, m = ``entropy_margin`` = 0.4;
lambda = ``reg_weight`` = 0.5, the paper's value as read by a public
re-implementation; x_k: frozen part output, x~_k: meta output, same pass).

Deviations / choices:

* Warm-up on source data (:meth:`EcoTTASegmentor.loss` through an mmengine
  Runner config, ``configs/ecotta/ecotta-warmup_*.py``) is separate;
  ``meta_checkpoint`` loads its meta blocks. Without it the meta blocks
  start as the exact identity, i.e. at the source model.
* Meta-block BNs use their running statistics (eval mode) by default, so
  that the first prediction equals the warmed-up (or source) model and batch
  size 1 is safe; ``batch_stats=True`` normalises with test-batch
  statistics (train mode, running stats updated), as the public
  re-implementation does.
* The entropy loss is averaged over kept pixels (0 if none is kept).
* Adam lr: no segmentation learning rate of the paper could be verified;
  the configs use 1e-4 (meta blocks are new, small modules) - tune it.
"""
import math
from typing import Optional, Sequence, Tuple, Union

import torch
from torch import nn

from tta_seg.models.ecotta import (EcoTTASegmentor, load_meta_weights,
                                   self_distillation_loss)
from tta_seg.models.losses import reliable_entropy
from tta_seg.models.norm import freeze_all_but
from tta_seg.registry import MODELS
from tta_seg.utils.checkpoint import load_source_weights
from .base import BaseAdapter, Losses, Metas

#: segmentor types that can be rebuilt as EcoTTASegmentor.
WRAPPABLE_TYPES = ('EncoderDecoder', 'mmseg.EncoderDecoder',
                   'EcoTTASegmentor')


def ecotta_segmentor_cfg(segmentor: dict, **kwargs) -> dict:
    """Turn an ``EncoderDecoder`` config into an ``EcoTTASegmentor`` one."""
    if segmentor.get('type') not in WRAPPABLE_TYPES:
        raise TypeError(f'EcoTTA wraps {WRAPPABLE_TYPES[:2]} configs, got '
                        f'{segmentor.get("type")!r}')
    # mmseg:: bases tag their model `_scope_='mmseg'`, where the wrapper
    # is not registered
    return dict(segmentor, type='EcoTTASegmentor', _scope_='tta_seg',
                **kwargs)


@MODELS.register_module()
class EcoTTA(BaseAdapter):
    """Entropy minimisation of meta blocks with self-distillation.

    Args:
        segmentor (dict | EcoTTASegmentor): Source ``EncoderDecoder`` config
            (rebuilt as :class:`EcoTTASegmentor`) or a built wrapper.
        partition (Sequence[str], optional): Partition points; None: after
            every backbone stage.
        meta_checkpoint (str, optional): Warm-up checkpoint holding
            ``meta_blocks.*`` weights (loaded after the source weights).
        entropy_margin (float): Keep pixels with entropy < margin * ln C.
        reg_weight (float): lambda of the self-distilled regulariser.
        batch_stats (bool): Meta BNs normalise with test-batch statistics.
        checkpoint_frozen (bool): Activation checkpointing of frozen parts.
        checkpoint_blocks (bool): ... and of their blocks, nested (less
            memory, one more forward of the frozen parts).
        meta_kernel (int): Kernel of the meta convs (paper: 3).
        source_checkpoint (str, optional): Source weights (original modules).
        allow_unsafe_checkpoint (bool): Permit full unpickling (both files).
        **kwargs: Other :class:`BaseAdapter` arguments (``optim_wrapper``).
    """

    def __init__(self,
                 segmentor: Union[dict, nn.Module],
                 partition: Optional[Sequence[str]] = None,
                 meta_checkpoint: Optional[str] = None,
                 entropy_margin: float = 0.4,
                 reg_weight: float = 0.5,
                 batch_stats: bool = False,
                 checkpoint_frozen: bool = True,
                 checkpoint_blocks: bool = True,
                 meta_kernel: int = 3,
                 source_checkpoint: Optional[str] = None,
                 allow_unsafe_checkpoint: bool = False,
                 **kwargs) -> None:
        if isinstance(segmentor, dict):
            segmentor = ecotta_segmentor_cfg(
                segmentor, partition=partition, meta_kernel=meta_kernel,
                checkpoint_frozen=checkpoint_frozen,
                checkpoint_blocks=checkpoint_blocks)
        elif not isinstance(segmentor, EcoTTASegmentor):
            raise TypeError('EcoTTA needs a segmentor config or an '
                            f'EcoTTASegmentor, got {type(segmentor).__name__}')
        # source weights go to the original modules only (meta blocks are
        # not in a source checkpoint), so BaseAdapter must not load them
        super().__init__(segmentor=segmentor,
                         allow_unsafe_checkpoint=allow_unsafe_checkpoint,
                         **kwargs)
        if source_checkpoint:
            load_source_weights(self.segmentor.frozen_view(),
                                source_checkpoint, allow_unsafe_checkpoint)
        if meta_checkpoint:
            load_meta_weights(self.segmentor, meta_checkpoint,
                              allow_unsafe_checkpoint)
        self.entropy_margin = entropy_margin
        self.reg_weight = reg_weight
        self.batch_stats = batch_stats

    def configure_model(self) -> None:
        freeze_all_but(self, list(self.segmentor.meta_blocks.parameters()))

    def set_modes(self) -> None:
        self.segmentor.meta_blocks.train(self.batch_stats)

    def adapt_loss(self, inputs: torch.Tensor,
                   metas: Metas) -> Tuple[torch.Tensor, Losses]:
        logits = self.segmentor.inference(inputs, metas)
        margin = self.entropy_margin * math.log(logits.shape[1])
        loss_entropy, _ = reliable_entropy(logits, margin)
        parts = self.segmentor.pop_part_outputs()
        loss_distill = self.reg_weight * self_distillation_loss(parts)
        return logits, dict(loss_entropy=loss_entropy,
                            loss_distill=loss_distill)
