"""GpreBN: gradient-preserving test-time batch normalisation.

Yang et al., "Test-time Batch Normalization", arXiv 2205.10210, 2022 (no
official code). For an input (N, C, ...) with batch statistics
``mu_B, sigma_B`` (per channel, biased variance, ``sigma = sqrt(var+eps)``)
and dataset-level statistics ``mu_hat, sigma_hat``::

    y = gamma * [(x - mu_B) / sigma_B * sg(sigma_B) / sigma_hat
                 + (sg(mu_B) - mu_hat) / sigma_hat] + beta      (sg = detach)

Its value is ``gamma * (x - mu_hat) / sigma_hat + beta`` (normalisation with
the dataset statistics), while its gradient w.r.t. ``x`` is training-mode
BN's (through ``mu_B`` and ``sigma_B``) scaled by ``sigma_B / sigma_hat``.

Dataset-level statistics: the source running statistics (frozen buffers).
They are the only dataset-level statistics available from the first test
image at batch size 1; with them the layer is stateless (``reset`` is exact)
and, before any update, the network computes exactly the source model's
prediction. A running average over the test stream would be the other
reading of the paper (not implemented).

Deviation: when a channel has a single value per batch (DeepLabV3+'s ASPP
image-pool branch at batch size 1) the batch statistics are undefined; the
layer then is eval-mode BN, value and gradient (like :class:`MixStatBN`).
"""
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from tta_seg.models.norm import StatsNorm
from tta_seg.registry import MODELS


@MODELS.register_module()
class GpreBNLayer(StatsNorm):
    """Gradient-preserving BN with frozen dataset (source) statistics.

    Args:
        num_features (int): Channels C of an input (N, C, ...).
        eps (float): Added to the variances.
        affine (bool): Learnable ``gamma`` (weight) and ``beta`` (bias).
    """

    @classmethod
    def from_bn(cls, bn: _BatchNorm) -> 'GpreBNLayer':
        """Build from a BN layer, copying its affine parameters and stats."""
        return cls(bn.num_features, bn.eps, affine=bn.affine).copy_bn_(bn)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """The bracket of the formula: value ``(x - mu_hat) / sigma_hat``."""
        shape = (1, -1) + (1, ) * (x.dim() - 2)
        mu_hat = self.running_mean.reshape(shape)
        sigma_hat = (self.running_var + self.eps).sqrt().reshape(shape)
        if x.numel() // x.shape[1] <= 1:
            return (x - mu_hat) / sigma_hat
        dims = [0] + list(range(2, x.dim()))
        var_b, mu_b = torch.var_mean(x, dim=dims, correction=0, keepdim=True)
        sigma_b = (var_b + self.eps).sqrt()
        return ((x - mu_b) / sigma_b * (sigma_b.detach() / sigma_hat) +
                (mu_b.detach() - mu_hat) / sigma_hat)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.normalize(x)
        if self.weight is None:
            return out
        shape = (1, -1) + (1, ) * (x.dim() - 2)
        return out * self.weight.reshape(shape) + self.bias.reshape(shape)

    def extra_repr(self) -> str:
        return f'{self.num_features}, eps={self.eps}'
