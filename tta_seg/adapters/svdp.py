"""SVDP: sparse visual domain prompts in a CoTTA-style mean teacher.

Yang et al., "Exploring Sparse Visual Prompt for Domain Adaptive Dense
Prediction", AAAI 2024 (arXiv 2303.09792; github.com/Anonymous-012/SVDP,
``mmseg/apis/test.py: single_gpu_svdp``, ``backbones/prompt.py``; defaults
from its ``bash/svdp.sh`` first line, whose log gives 60.3/61.4/61.4).
On :class:`CoTTA` (EMA teacher, frozen anchor, restoration), per batch
x (N, 3, H, W):

1. Uncertainty U (N, H, W): sum over classes of the variance over
   ``mc_samples`` softmax maps of the teacher WITHOUT prompt, element-wise
   dropout ``mc_dropout`` on the input of ``classifier_name`` (the code
   swaps the head's dropout for ``nn.Dropout(0.5)``, 10 samples).
2. Domain Prompt Placement: k = int(h0 * w0 * ``sparse_ratio``) learnable
   pixel values (k, 3) (code: ``patch`` (k, 3, 1, 1); the paper's 0.1%
   trainable parameters, not an image-size tensor), (h0, w0) =
   ``prompt_shape`` (540x960 -> 518). Each view gets them at its k most
   uncertain pixels, U resized to the view, before flipping
   (:class:`~tta_seg.models.svdp.SparsePrompt`).
3. CoTTA's gated 14-view teacher on views carrying the teacher prompt
   (anchor gate unprompted) gives the prediction and the hard pseudo label
   for the student, which sees x + its own prompt.
4. Domain Prompt Updating: one Adam step (prompt ``prompt_lr``, every model
   parameter the optimizer's lr), teacher EMA ``alpha_teacher``, student
   restoration (never the prompt), then the teacher prompt EMA with rate
   ``alpha_teacher - uncertainty_scale * mean(U)`` clamped to [0, 1] (the
   code's ``--ema_rate_prompt`` is unused).

Choices and deviations:

* The official prompt never learns: its placed prompts are built under
  ``torch.no_grad()``, so ``patch`` gets no gradient and stays at its
  ``randn`` init (its teacher copy too). Here the gradient reaches the
  prompt (the paper's trainable prompts) and values start at 0 (the paper
  gives no init), so the adapter starts as the source model.
  ``prompt_init_std=1, prompt_lr=0`` reproduce the code.
* U at the model input size, bilinear to other views (code: at the original
  1080x1920, scipy cubic ``zoom``); classifier re-run on one forward's
  features (code: head re-run; same law). Batch N: placement per image, one
  prompt EMA rate from the batch mean. k is fixed at build.
* Published values exist only for SegFormer-B5 on ACDC; other models and
  the synthetic benchmark reuse them (unknown whether they fit).
* Segmentors without ``decode_head.conv_seg`` need ``classifier_name``.
* CoTTA's deviations apply (tensor views, input-size labels).
"""
from functools import partial
from typing import List, Optional, Sequence, Tuple

import torch

from tta_seg.models.augment_views import view_metas
from tta_seg.models.svdp import (SparsePrompt, find_classifier,
                                 mc_dropout_probs, pixel_uncertainty,
                                 prompted_multi_view_probs)
from tta_seg.registry import MODELS
from .base import Losses, Metas
from .cotta import CoTTA


@MODELS.register_module()
class SVDP(CoTTA):
    """Sparse visual domain prompts + CoTTA's teacher-student.

    Args:
        sparse_ratio (float): Prompted fraction of the input's pixels.
        prompt_shape (sequence of int): (h0, w0) that fixes k.
        prompt_lr (float): Adam lr of the student prompt.
        prompt_init_std (float): Std of the prompts' normal init (0: zeros).
        uncertainty_scale (float): Slope of the teacher prompt's EMA rate.
        mc_samples (int): MC-dropout samples of the uncertainty.
        mc_dropout (float): Their dropout probability.
        classifier_name (str): Final classifier module of the segmentor.
        **kwargs: :class:`CoTTA` arguments.
    """

    def __init__(self, sparse_ratio: float = 1e-3,
                 prompt_shape: Sequence[int] = (540, 960),
                 prompt_lr: float = 1e-4, prompt_init_std: float = 0.0,
                 uncertainty_scale: float = 0.1, mc_samples: int = 10,
                 mc_dropout: float = 0.5,
                 classifier_name: str = 'decode_head.conv_seg',
                 **kwargs) -> None:
        num_prompts = int(prompt_shape[0] * prompt_shape[1] * sparse_ratio)
        if num_prompts < 1:
            raise ValueError(f'sparse_ratio={sparse_ratio} of prompt_shape='
                             f'{tuple(prompt_shape)} gives no prompt pixel')
        if mc_samples < 2 or not 0.0 < mc_dropout < 1.0:
            raise ValueError('mc_samples must be >= 2 and mc_dropout in '
                             f'(0, 1), got {mc_samples}, {mc_dropout}')
        super().__init__(**kwargs)
        find_classifier(self.segmentor, classifier_name)  # refuse early
        self.classifier_name = classifier_name
        self.prompt_lr, self.uncertainty_scale = prompt_lr, uncertainty_scale
        self.mc_samples, self.mc_dropout = mc_samples, mc_dropout
        self.prompt = SparsePrompt(num_prompts, init_std=prompt_init_std)
        self.teacher_prompt = SparsePrompt(num_prompts)
        self.teacher_prompt.load_state_dict(self.prompt.state_dict())
        self.prompt_rate: Optional[float] = None  # of the current batch

    def configure_model(self) -> None:
        super().configure_model()
        self.prompt.requires_grad_(True)
        self.teacher_prompt.requires_grad_(False)

    def trainable_params(self) -> List[dict]:
        """Adam parameter groups: the prompt (``prompt_lr``), the model."""
        model = [p for p in self.segmentor.parameters() if p.requires_grad]
        return [dict(params=list(self.prompt.parameters()),
                     lr=self.prompt_lr), dict(params=model)]

    @torch.no_grad()
    def uncertainty(self, inputs: torch.Tensor,
                    metas: Metas) -> torch.Tensor:
        """MC-dropout uncertainty (N, H, W) of the unprompted teacher."""
        with torch.autocast(inputs.device.type, enabled=self.amp):
            probs = mc_dropout_probs(
                self.teacher.inference,
                find_classifier(self.teacher, self.classifier_name), inputs,
                view_metas(metas, inputs.shape[-2:]), self.mc_samples,
                self.mc_dropout,
                getattr(self.segmentor, 'align_corners', False))
        return pixel_uncertainty(probs)

    @torch.no_grad()
    def teacher_prediction(self, inputs: torch.Tensor, metas: Metas,
                           uncertainty: Optional[torch.Tensor] = None
                           ) -> torch.Tensor:
        """Gated probabilities (N, C, H, W) of the prompted teacher."""
        if uncertainty is None:
            uncertainty = self.uncertainty(inputs, metas)
        gate = self.anchor_gate(inputs, metas)  # unprompted anchor
        mean_probs, gate_probs = prompted_multi_view_probs(
            self._predictor(self.teacher), inputs, metas,
            partial(self.teacher_prompt, uncertainty=uncertainty),
            self.view_scales(inputs.shape[-2:]), self.flip,
            keep_scale=self.gate_scale, fast=self.fast_views,
            view_batch=self.view_batch,
            align_corners=getattr(self.segmentor, 'align_corners', False))
        return torch.where(gate, gate_probs, mean_probs)

    def adapt_loss(self, inputs: torch.Tensor,
                   metas: Metas) -> Tuple[torch.Tensor, Losses]:
        uncertainty = self.uncertainty(inputs, metas)
        rate = self.alpha_teacher - self.uncertainty_scale * float(
            uncertainty.mean())
        self.prompt_rate = min(max(rate, 0.0), 1.0)
        probs = self.teacher_prediction(inputs, metas, uncertainty)
        prompted = self.prompt(inputs, uncertainty)
        return probs, self.student_loss(prompted, metas, probs)

    def after_update(self) -> None:
        super().after_update()  # model EMA, then restoration (not prompts)
        self.update_teacher_prompt(self.prompt_rate)

    @torch.no_grad()
    def update_teacher_prompt(self, rate: float) -> None:
        """``teacher_prompt = rate * teacher_prompt + (1 - rate) * prompt``."""
        teacher, student = self.teacher_prompt.values, self.prompt.values
        teacher.mul_(rate).add_(student, alpha=1.0 - rate)
