"""DIGA: dynamically instance-guided adaptation, backward-free.

Wang et al., "Dynamically Instance-Guided Adaptation: A Backward-free
Approach for Test-Time Domain Adaptive Semantic Segmentation", CVPR 2023
(github.com/Waybaba/DIGA, ``src/models/ttda_module.py``; defaults from its
``configs/model/diga.yaml``). No gradient, no optimizer, all under
``torch.no_grad()``.

* Distribution adaptation: every BN (by base class) becomes
  :class:`MixStatBN` with ``prior=bn_lambda``:
  ``mu = bn_lambda * mu_source + (1 - bn_lambda) * mu_instance`` (same for
  the variance).
* Semantic adaptation, in a forward hook on the final classifier
  (``classifier_name``, default ``decode_head.conv_seg``; no forked head).
  Its input is the feature map f (N, D, h, w), its output the logits
  (N, C, h, w) at the SAME resolution, so the pseudo labels need no
  resampling (the official logits are at feature resolution too). Pixels
  with max softmax >= ``proto_conf_threshold`` give per-image prototypes
  (N, C, D). The running prototypes (buffers C x D + ``initialised`` flags)
  move with rate ``proto_rate`` towards them, image by image and BEFORE that
  image is predicted (as the official code); a class seen for the first time
  is initialised with its instance prototype.
  ``post(P) = softmax_c(-||f - P_c||)`` over the classes that have a
  prototype (others 0); ``proto = running_weight * post(running) +
  (1 - running_weight) * post(instance)``: the official code mixes
  posteriors, not prototypes. ``out = proto_weight * proto +
  (1 - proto_weight) * softmax(logits)`` replaces the classifier output, so
  the segmentor upsamples it (bilinear) to the input size as usual and no
  full-resolution copy is made.

Output: probabilities, not logits (argmax, all the metric reads, is what
matters; do not apply a softmax on top); every row sums to 1. Where a
prototype set is empty (no confident pixel in the image, or none yet in the
stream) the weights are renormalised over what is present: the other
prototype posterior gets the whole prototype weight (``proto = post(running)``
or ``post(instance)``), and with both sets empty ``out = softmax(logits)``
(weighting an empty set by 0 instead would shrink the prototype term and
could change the argmax).

Deviations from the official code:

* The running prototypes are updated from the PSEUDO-labelled instance
  prototypes only. The released code updates them with GROUND-TRUTH labels
  (after a first pseudo-labelled initialisation): a label leak, never here.
* Per-image prototypes and per-image sequential running updates; the
  official code pools a batch (it runs at batch size 1, where both agree).
  :class:`MixStatBN` mixes in batch statistics (= instance statistics at
  batch size 1) and keeps the source statistics on a 1x1 map (ASPP image
  pool at batch size 1; the official DeepLabV2 has none).
* Empty prototype sets: renormalised weights (above); the official code
  divides 0 by 0 there (NaN posteriors).
* Slide inference: each crop is an instance (own prototypes and update).
* :meth:`predict_logits` (forgetting checks) applies the classifier with the
  current running prototypes but does not update them.
"""
from functools import partial

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from tta_seg.models.norm import MixStatBN, replace_norm_layers
from tta_seg.models.prototypes import (RunningPrototypes, class_prototypes,
                                       confident_class_masks, fusion_weight,
                                       prototype_posterior)
from tta_seg.registry import MODELS
from .base import BaseAdapter, Metas


def find_classifier(segmentor: nn.Module, name: str) -> nn.Conv2d:
    """The final ``Conv2d`` classifier ``name`` of ``segmentor``.

    Raises:
        ValueError: ``name`` is not a submodule of the segmentor.
        TypeError: it is not a ``Conv2d``.
    """
    try:
        module = segmentor.get_submodule(name)
    except AttributeError:
        raise ValueError(
            f'DIGA hooks the final Conv2d classifier (features (N, D, h, w) '
            f'-> logits (N, C, h, w)); {type(segmentor).__name__} has no '
            f'submodule {name!r}: pass classifier_name=<its dotted name>'
        ) from None
    if not isinstance(module, nn.Conv2d):
        raise TypeError(f'DIGA: {name} is a {type(module).__name__}; '
                        'classifier_name must name the final Conv2d '
                        'classifier')
    return module


def _check_unit(**values: float) -> None:
    for name, value in values.items():
        if not 0.0 <= value <= 1.0:
            raise ValueError(f'{name} must be in [0, 1], got {value}')


@MODELS.register_module()
class DIGA(BaseAdapter):
    """Mixed BN statistics plus a running/instance prototype classifier.

    Args:
        bn_lambda (float): Weight of the source BN statistics.
        proto_conf_threshold (float): Min. softmax for prototype pixels.
        proto_rate (float): Update rate of the running prototypes.
        running_weight (float): Weight of the running-prototype posterior
            against the instance-prototype posterior.
        proto_weight (float): Weight of the prototype prediction against the
            model softmax.
        classifier_name (str): Module (of the segmentor) mapping features
            (N, D, h, w) to logits (N, C, h, w): a ``Conv2d``.
        **kwargs: :class:`BaseAdapter` arguments (no ``optim_wrapper``).
    """

    def __init__(self, bn_lambda: float = 0.8,
                 proto_conf_threshold: float = 0.9, proto_rate: float = 0.1,
                 running_weight: float = 0.8, proto_weight: float = 0.8,
                 classifier_name: str = 'decode_head.conv_seg',
                 **kwargs) -> None:
        if kwargs.get('optim_wrapper') is not None:
            raise ValueError('DIGA is backward-free: optim_wrapper must be '
                             'None')
        _check_unit(bn_lambda=bn_lambda, running_weight=running_weight,
                    proto_conf_threshold=proto_conf_threshold,
                    proto_weight=proto_weight)
        super().__init__(**kwargs)
        self.bn_lambda = bn_lambda
        self.proto_conf_threshold = proto_conf_threshold
        self.running_weight = running_weight
        self.proto_weight = proto_weight
        self.classifier_name = classifier_name
        cls = find_classifier(self.segmentor, classifier_name)
        self.running = RunningPrototypes(cls.out_channels, cls.in_channels,
                                         proto_rate)

    @property
    def classifier(self) -> nn.Conv2d:
        """The hooked final classifier (not registered twice)."""
        return find_classifier(self.segmentor, self.classifier_name)

    def configure_model(self) -> None:
        super().configure_model()
        replace_norm_layers(self.segmentor,
                            lambda bn: MixStatBN.from_bn(bn, self.bn_lambda),
                            _BatchNorm)
        self.requires_grad_(False)

    def forward_and_adapt(self, inputs: torch.Tensor,
                          metas: Metas) -> torch.Tensor:
        return self._infer(inputs, metas, update=True)

    def predict_logits(self, inputs: torch.Tensor,
                       metas: Metas) -> torch.Tensor:
        return self._infer(inputs, metas, update=False)

    def _infer(self, inputs: torch.Tensor, metas: Metas,
               update: bool) -> torch.Tensor:
        """Segmentor inference with the classifier output replaced."""
        handle = self.classifier.register_forward_hook(
            partial(self._adapt_classifier, update=update))
        try:
            with torch.no_grad():
                return self.segmentor.inference(inputs, metas)
        finally:
            handle.remove()

    def _adapt_classifier(self, module: nn.Module, args: tuple,
                          logits: torch.Tensor, update: bool) -> torch.Tensor:
        """Forward hook: (N, C, h, w) logits -> DIGA probabilities."""
        feats = args[0]
        probs = logits.softmax(dim=1)
        protos, present = class_prototypes(
            feats, confident_class_masks(probs, self.proto_conf_threshold))
        if update:
            running, initialised = self.running.track(protos, present)
        else:
            n = feats.shape[0]
            running = self.running.prototypes.expand(n, -1, -1)
            initialised = self.running.initialised.expand(n, -1)
        # both prototype sets in one distance matmul: (N, 2, C, h, w)
        post = prototype_posterior(
            feats, torch.stack([running.to(feats.dtype), protos], dim=1),
            torch.stack([initialised, present], dim=1))
        has_running, has_instance = initialised.any(-1), present.any(-1)
        w_running = fusion_weight(self.running_weight, has_running,
                                  has_instance).to(post)
        proto = torch.lerp(post[:, 1], post[:, 0], w_running)
        w_proto = fusion_weight(self.proto_weight, has_running | has_instance,
                                torch.ones_like(has_running)).to(post)
        return probs.lerp_(proto, w_proto)
