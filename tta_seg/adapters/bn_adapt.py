"""BN-statistics adaptation (test-time normalisation).

Schneider et al., "Improving robustness against common corruptions by
covariate shift adaptation", NeurIPS 2020; Nado et al., "Evaluating
prediction-time batch normalization", 2020. Used as "BN Stats Adapt" in
CoTTA's Cityscapes -> ACDC table.

Every BatchNorm (found by base class) is replaced by :class:`MixStatBN`:
it normalises with ``prior * source + (1 - prior) * test-batch`` statistics.
``prior=0`` (default) is pure test-batch normalisation as in CoTTA's
baseline; Schneider et al.'s ``N / (N + n)`` prior is ``prior`` here.
No parameter changes, so there is nothing to forget and ``reset`` is
trivial. Models without BN (SegFormer: one BN in the head) barely change.
"""
from torch.nn.modules.batchnorm import _BatchNorm

from tta_seg.models.norm import MixStatBN, replace_norm_layers
from tta_seg.registry import MODELS
from .source import Source


@MODELS.register_module()
class BNAdapt(Source):
    """Normalise with (mixed) test-batch statistics; no gradient step.

    Args:
        prior (float): Weight of the source statistics in [0, 1].
        **kwargs: :class:`BaseAdapter` arguments.
    """

    def __init__(self, prior: float = 0.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.prior = prior

    def configure_model(self) -> None:
        super().configure_model()
        replace_norm_layers(self.segmentor,
                            lambda bn: MixStatBN.from_bn(bn, self.prior),
                            _BatchNorm)
