"""Hybrid-TTA: dynamic domain-shift detection switching full and efficient
tuning, masked image modelling, mean teacher.

"Hybrid-TTA: Continual Test-time Adaptation via Dynamic Domain Shift
Detection", ICCV 2025 (arXiv 2409.08566); official code
github.com/hhhyyeee/Hybrid-TTA (mmseg 0.x, SegFormer-B5; ``scripts/ours.py``,
``mmseg/ood/base.py``, ``mmseg/models/pet/adapter.py``, SimMIM neck/head).
Layers: ``tta_seg/models/hybrid_tta.py``.

Per batch (N, 3, H, W), on a :class:`MeanTeacherAdapter` whose student and
teacher carry a parallel adapter on every block's MLP (d -> 5 -> d, GELU,
learnable scale: ``out = x + MLP(norm2(x)) + adapter(norm2(x))``):

1. the teacher predicts the unmasked image; its logits are the reported
   prediction and its argmax the pseudo labels;
2. SimMIM masking: 32-px patches, 60 % masked, masked tokens of the first
   patch embedding replaced by a learnable mask token;
3. the student's features of the masked image give segmentation logits
   (cross-entropy against the pseudo labels, mean over pixels) and, through
   the reconstruction decoder, the image (L1 on the masked pixels,
   weight ``recon_weight`` 0.3);
4. DDSD (:class:`DomainShiftDetector`) on that cross-entropy chooses full
   tuning (everything trains) or efficient tuning (the backbone's blocks
   freeze, adapters excepted; this step's gradients of frozen parameters
   are dropped, an unfreeze acts from the next step, as in the code);
5. one Adam step (lr 7.5e-5) on the student, decoder and mask token; EMA
   teacher (0.999).

Choices and deviations:

* Domain boundaries. The official code builds a new Adam and forces full
  tuning at the start of every domain, which needs the domain labels. The
  default here is a truly continual run (one optimizer, no restarts);
  ``restart_every=N`` restarts the Adam moments and forces full tuning
  every N images without labels (N=400 = ACDC's domain length reproduces
  the official schedule on the fixed-order stream).
* Adapter initialisation: down projection truncated normal (std 0.02),
  zero bias, as the code; up projection zero (the paper's "zero-init", so
  the model starts at the source). In the code the backbone constructor's
  ``self.apply(self._init_weights)`` runs after the adapters are created
  and re-draws the up projection too (trunc. normal 0.02, zero bias), so
  the official model does not start exactly at its source.
* One update per batch (``steps`` must be 1), as the code.
* ResNet backbones (the embedded DeepLabV3+ R18) have no MLP: the adapter
  (1x1 convs, the block's stride) runs parallel to each residual block,
  and masking replaces pixels with a learnable token (3,) instead of
  tokens; efficient tuning freezes the residual stages.
* The reconstruction decoder drops the official BatchNorm: always in eval
  mode with its initial statistics (0 / 1) it is an affine map that the
  next 1x1 conv absorbs. Its width ``decoder_channels`` is 768 for B5 as
  the code; the embedded configs use 256 (the width of their SegFormer
  head). Decoder and mask token start untrained, as in the code.
* Pseudo labels at the model input size (code: at 1080x1920); the mask is
  drawn per image (code: one per batch; equal at the protocol's batch 1);
  single-scale teacher (``--aug-test``, Hybrid-TTA++, is not offered). No
  stochastic restoration and no anchor (the code's are inactive).
"""
import math
from typing import Optional, Union

import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from torch import Tensor, nn

from tta_seg.models.hybrid_tta import (DomainShiftDetector,
                                       ReconstructionDecoder,
                                       block_parameters, inject_adapters,
                                       masked_features, masked_l1,
                                       patch_mask)
from tta_seg.registry import MODELS
from tta_seg.utils.checkpoint import load_source_weights
from .base import Losses, Metas
from .mean_teacher import MeanTeacherAdapter


@MODELS.register_module()
class HybridTTA(MeanTeacherAdapter):
    """Hybrid-TTA (module docstring).

    Args:
        segmentor (dict | nn.Module): An mmseg ``EncoderDecoder`` with a
            MixVisionTransformer or ResNet backbone.
        adapter_hidden (int): Adapter bottleneck width (official: 5).
        mask_patch (int): Mask patch size in input pixels (32).
        mask_ratio (float): Share of patches masked (0.6).
        recon_weight (float): Weight of the reconstruction loss (0.3).
        decoder_channels (int): Reconstruction decoder width (768).
        ddsd_window, ddsd_momentum, ddsd_margin: DDSD (10, 0.999, 0.1).
        restart_every (int, optional): Restart the optimizer moments and
            force full tuning every this many images (None: never).
        **kwargs: :class:`MeanTeacherAdapter` arguments (``alpha_teacher``
            0.999, ``optim_wrapper``...).
    """

    def __init__(self, segmentor: Union[dict, nn.Module],
                 adapter_hidden: int = 5, mask_patch: int = 32,
                 mask_ratio: float = 0.6, recon_weight: float = 0.3,
                 decoder_channels: int = 768, ddsd_window: int = 10,
                 ddsd_momentum: float = 0.999, ddsd_margin: float = 0.1,
                 restart_every: Optional[int] = None,
                 source_checkpoint: Optional[str] = None,
                 allow_unsafe_checkpoint: bool = False, **kwargs) -> None:
        if not 0.0 < mask_ratio <= 1.0 or mask_patch < 1:
            raise ValueError('mask_ratio must be in (0, 1] and mask_patch '
                             '>= 1')
        if kwargs.get('steps', 1) != 1:
            raise ValueError(f"HybridTTA makes one update per batch (as the "
                             f"official code); steps must be 1, got "
                             f"{kwargs['steps']}")
        if restart_every is not None and restart_every < 1:
            raise ValueError(f'restart_every must be >= 1 or None, got '
                             f'{restart_every}')
        if isinstance(segmentor, dict):
            segmentor = MODELS.build(ConfigDict(segmentor))
        if source_checkpoint:  # source keys only: load before injecting
            load_source_weights(segmentor, source_checkpoint,
                                allow_unsafe_checkpoint)
        inject_adapters(segmentor, adapter_hidden)
        super().__init__(segmentor=segmentor,
                         allow_unsafe_checkpoint=allow_unsafe_checkpoint,
                         **kwargs)
        del self.anchor  # the code's anchor serves only --aug-test
        segmentor.eval()  # a probe forward must not touch BN statistics
        with torch.no_grad():
            feats = segmentor.extract_feat(torch.zeros(1, 3, 64, 64))
        self.decoder = ReconstructionDecoder(
            [f.shape[1] for f in feats], decoder_channels,
            stride=64 // feats[0].shape[-1])
        dims = feats[0].shape[1] if self._token_masking else 3
        self.mask_token = nn.Parameter(torch.zeros(dims))
        self.detector = DomainShiftDetector(ddsd_window, ddsd_momentum,
                                            ddsd_margin)
        self.register_buffer('images_seen', torch.zeros((), dtype=torch.long))
        self.register_buffer('restart_chunk',
                             torch.zeros((), dtype=torch.long))
        self.mask_patch, self.mask_ratio = mask_patch, mask_ratio
        self.recon_weight, self.restart_every = recon_weight, restart_every
        self.counters.update(efficient_steps=0, restarts=0)

    @property
    def _token_masking(self) -> bool:
        from mmseg.models.backbones import MixVisionTransformer
        return isinstance(self.segmentor.backbone, MixVisionTransformer)

    def configure_model(self) -> None:
        """Student, decoder and mask token trainable; teacher frozen."""
        self.requires_grad_(True)
        self.teacher.requires_grad_(False)
        self._blocks = block_parameters(self.segmentor)

    def apply_mode(self, efficient: bool) -> None:
        """Freeze (efficient) or unfreeze (full) the backbone's blocks."""
        for param in self._blocks:
            param.requires_grad_(not efficient)

    def forward_and_adapt(self, inputs: Tensor, metas: Metas) -> Tensor:
        self.prepare()
        self._maybe_restart()
        self.apply_mode(bool(self.detector.efficient))
        with torch.no_grad():
            teacher = self.teacher.inference(inputs, metas)
        losses = self.masked_losses(inputs, teacher.argmax(1))
        seg_loss = losses['loss_seg'].detach().item()
        # a non-finite loss is skipped by update(); it must not poison tau
        efficient = self.detector.step(seg_loss) if math.isfinite(
            seg_loss) else bool(self.detector.efficient)
        if efficient:
            self.count('efficient_steps')
            self.apply_mode(True)  # this step's block gradients are dropped
        self.update(losses)
        self.images_seen += inputs.shape[0]
        return teacher

    def masked_losses(self, inputs: Tensor, labels: Tensor) -> Losses:
        """Student losses on the masked image against ``labels`` (N, h, w),
        the teacher's argmax at the size its inference returns."""
        mask = patch_mask(inputs.shape[0], *inputs.shape[-2:],
                          self.mask_patch, self.mask_ratio, inputs.device)
        feats = masked_features(self.segmentor, inputs, mask,
                                self.mask_token)
        logits = F.interpolate(self.segmentor.decode_head(feats),
                               size=labels.shape[-2:], mode='bilinear',
                               align_corners=False)
        recon = self.decoder(feats, inputs.shape[-2:])
        return dict(loss_seg=F.cross_entropy(logits, labels),
                    loss_recon=self.recon_weight * masked_l1(
                        recon, inputs, mask))

    def apply_gradients(self, loss: Tensor) -> None:
        """Backward, then drop the gradients of frozen parameters (DDSD
        froze them after the forward) before the optimizer step."""
        self.optim_wrapper.backward(loss)
        for param in self._blocks:
            if not param.requires_grad:
                param.grad = None
        self.optim_wrapper.step()
        self.optim_wrapper.zero_grad()

    def _maybe_restart(self) -> None:
        """At the first batch of each new ``restart_every`` images: fresh
        Adam moments and full tuning (the official domain restart)."""
        if not self.restart_every:
            return
        chunk = int(self.images_seen) // self.restart_every
        if chunk > int(self.restart_chunk):
            self.optim_wrapper.optimizer.state.clear()
            self.detector.efficient.fill_(False)
            self.restart_chunk.fill_(chunk)
            self.count('restarts')

    def reset(self) -> None:
        super().reset()
        self.apply_mode(False)
