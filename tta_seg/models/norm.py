"""Norm-layer utilities shared by every adapter.

All swaps of normalisation layers go through :func:`replace_norm_layers`,
which finds layers by base class (``_BatchNorm`` covers ``BatchNorm2d``,
``SyncBatchNorm`` and mmcv's variants), so methods never hard-code
``nn.BatchNorm2d``.
"""
from typing import Callable, Iterator, List, Tuple, Type, Union

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from tta_seg.registry import MODELS

#: Norm-layer base classes whose affine parameters TENT-style methods train.
NORM_TYPES = (_BatchNorm, nn.LayerNorm, nn.GroupNorm, nn.InstanceNorm2d)

ClassSpec = Union[Type[nn.Module], Tuple[Type[nn.Module], ...]]


def replace_norm_layers(model: nn.Module,
                        factory: Callable[[nn.Module], nn.Module],
                        layer_type: ClassSpec = _BatchNorm) -> int:
    """Replace every submodule of ``layer_type`` by ``factory(old_layer)``.

    Args:
        model (nn.Module): Model modified in place.
        factory (callable): Builds the new layer from the old one (it should
            copy affine parameters and statistics).
        layer_type (type or tuple): Base class(es) to replace.

    Returns:
        int: Number of replaced layers.
    """
    targets = [(name, mod) for name, mod in model.named_modules()
               if isinstance(mod, layer_type) and name]
    for name, old in targets:
        parent_name, _, child = name.rpartition('.')
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, factory(old))
    return len(targets)


def norm_affine_params(
        model: nn.Module,
        layer_type: ClassSpec = NORM_TYPES
) -> Iterator[Tuple[str, nn.Parameter]]:
    """Yield ``(name, param)`` of the affine weight/bias of norm layers."""
    for mod_name, mod in model.named_modules():
        if not isinstance(mod, layer_type):
            continue
        for p_name, param in mod.named_parameters(recurse=False):
            if p_name in ('weight', 'bias'):
                yield f'{mod_name}.{p_name}', param


def freeze_all_but(model: nn.Module, params: List[nn.Parameter]) -> int:
    """Set ``requires_grad`` on exactly ``params``; return their count."""
    keep = {id(p) for p in params}
    for param in model.parameters():
        param.requires_grad_(id(param) in keep)
    return len(keep)


#: Values per channel from which :class:`MixStatBN` computes no-gradient
#: float32 statistics on the CPU from sums (faster there, except on tiny
#: maps where ``batch_norm_update_stats``'s single op wins).
CPU_SUMS_MIN_VALUES = 128


def _channel_shape(x: torch.Tensor) -> Tuple[int, ...]:
    """Shape broadcasting a (C,) vector over x of shape (N, C, ...)."""
    return (1, -1) + (1, ) * (x.dim() - 2)


class StatsNorm(nn.Module):
    """Base of the BN replacements: optional affine ``weight``/``bias`` and
    frozen ``running_mean``/``running_var`` buffers, as a BN layer has.

    Args:
        num_features (int): Channels C of an input (N, C, ...).
        eps (float): Added to the variances.
        affine (bool): Learnable ``gamma`` (weight) and ``beta`` (bias).
    """

    def __init__(self, num_features: int, eps: float = 1e-5,
                 affine: bool = True) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(num_features)) if affine \
            else None
        self.bias = nn.Parameter(torch.zeros(num_features)) if affine \
            else None
        self.register_buffer('running_mean', torch.zeros(num_features))
        self.register_buffer('running_var', torch.ones(num_features))

    def copy_bn_(self, bn: _BatchNorm) -> 'StatsNorm':
        """Take ``bn``'s statistics, affine parameters, device and dtype."""
        if bn.running_mean is None:
            raise ValueError(f'{type(self).__name__} needs the running '
                             '(source) statistics of the BN it replaces')
        self.to(bn.running_mean)
        with torch.no_grad():
            self.running_mean.copy_(bn.running_mean)
            self.running_var.copy_(bn.running_var)
            if bn.affine and self.weight is not None:
                self.weight.copy_(bn.weight)
                self.bias.copy_(bn.bias)
        return self


@MODELS.register_module()
class MixStatBN(StatsNorm):
    """BatchNorm normalising with a mix of source and test-batch statistics.

    ``mu = prior * mu_source + (1 - prior) * mu_batch`` and likewise for the
    variance (biased batch variance, as BN uses for normalisation). The source
    statistics are the frozen ``running_mean``/``running_var`` buffers and are
    never updated, so the layer is stateless across batches (``reset`` is
    trivial) and behaves the same in train and eval mode.

    ``prior=0`` is pure test-batch normalisation (Schneider et al. 2020 with
    N=0; TENT's BN), ``prior=0.8`` is DIGA's distribution adaptation.

    Deviation: when a channel has a single value per batch (e.g. the 1x1
    image-pool branch of DeepLabV3+'s ASPP at batch size 1) the batch variance
    is undefined, so the source statistics are used for that layer.

    Cost: without gradients the batch statistics come from one op
    (``torch.batch_norm_update_stats``; on the CPU, maps of at least
    ``CPU_SUMS_MIN_VALUES`` values per channel use two plain reductions,
    see :meth:`_no_grad_stats`), never a temporary of the input's
    size, and the normalisation is one eval-mode ``torch.batch_norm``;
    ``prior=0`` with gradients (and without, off the CPU sums) is a
    train-mode ``F.batch_norm`` (one fused op, forward and backward). On a
    2-core CPU the statistics are what DIGA and BNAdapt cost over Source
    (about 0.1x Source time on the embedded R18).

    Args:
        num_features (int): Channels C of an input (N, C, ...).
        prior (float): Weight of the source statistics in [0, 1].
        eps (float): Added to the variance.
    """

    def __init__(self, num_features: int, prior: float = 0.0,
                 eps: float = 1e-5, affine: bool = True) -> None:
        if not 0.0 <= prior <= 1.0:
            raise ValueError(f'prior must be in [0, 1], got {prior}')
        super().__init__(num_features, eps, affine)
        self.prior = prior

    @classmethod
    def from_bn(cls, bn: _BatchNorm, prior: float = 0.0) -> 'MixStatBN':
        """Build from a BN layer, copying its affine parameters and stats."""
        layer = cls(bn.num_features, prior, bn.eps,
                    affine=bn.affine).copy_bn_(bn)
        if bn.affine:
            layer.weight.requires_grad_(bn.weight.requires_grad)
            layer.bias.requires_grad_(bn.bias.requires_grad)
        return layer

    def _single_value(self, x: torch.Tensor) -> bool:
        """Whether each channel has one value per batch (no batch stats)."""
        return x.numel() <= x.shape[1]

    def mixed_stats(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Mixed mean and variance, each of shape (C,)."""
        if self.prior >= 1.0 or self._single_value(x):
            return self.running_mean, self.running_var
        if torch.is_grad_enabled() and x.requires_grad:
            return self._differentiable_stats(x)
        return self._no_grad_stats(x)

    def _differentiable_stats(self, x: torch.Tensor
                              ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Two passes with autograd: a mean and a mean of squared deviations
        (``torch.var_mean`` over (0, 2, 3) is slower on the CPU)."""
        dims = [0] + list(range(2, x.dim()))
        mean_b = x.mean(dims)
        var_b = (x - mean_b.reshape(_channel_shape(x))).square().mean(dims)
        # lerp(b, s, prior) = prior * s + (1 - prior) * b
        return (torch.lerp(mean_b, self.running_mean, self.prior),
                torch.lerp(var_b, self.running_var, self.prior))

    def _cpu_sums(self, x: torch.Tensor) -> bool:
        """Whether :meth:`_no_grad_stats` takes the CPU sums for ``x``."""
        return (x.device.type == 'cpu' and x.dtype == torch.float32
                and x.numel() >= CPU_SUMS_MIN_VALUES * x.shape[1])

    def _no_grad_stats(self, x: torch.Tensor
                       ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Mixed statistics without autograd and without a temporary of the
        input's size.

        One op, ``batch_norm_update_stats`` (the batch mean and biased
        variance train-mode BN uses), except for float32 maps of at least
        ``CPU_SUMS_MIN_VALUES`` values per channel on the CPU, where that op
        is 1.5-5x slower than two plain reductions (2 threads: 102 vs 37 us
        on a 1x128x16x32 map, 720 vs 130 us on 1x256x32x64). There: a sum
        and a squared L2 norm per channel, both read-only vectorised passes
        along the contiguous pixels (per image, then over the batch: one
        reduction over the batch and pixel dimensions at once is up to 3x
        slower at batch > 1), and ``var = E[x^2] - E[x]^2``, which costs
        about ``1e-7 * (1 + mean^2 / var)`` relative precision in float32
        (tested at mean = 40 std). The (C,) vectors get as few small ops as
        possible: each costs several microseconds on the CPU, about as much
        as a reduction of a small map.
        """
        prior = self.prior
        if not self._cpu_sums(x):
            mean_b, var_b = torch.batch_norm_update_stats(x, None, None, 1.0)
            return (torch.lerp(mean_b, self.running_mean, prior),
                    torch.lerp(var_b, self.running_var, prior))
        n, c = x.shape[:2]
        m = x.numel() // c  # values per channel
        values = x.reshape(n, c, -1)
        if n == 1:
            sums = torch.sum(values, (0, 2))
            squares = torch.linalg.vector_norm(values, 2, (0, 2)).square_()
        else:
            sums = values.sum(2).sum(0)
            squares = torch.linalg.vector_norm(values, 2, 2).square_().sum(0)
        # m * var_b = sum(x^2) - sum(x)^2 / m
        var = torch.addcmul(squares, sums, sums, value=-1.0 / m)
        keep = (1.0 - prior) / m
        return (sums.mul_(keep).add_(self.running_mean, alpha=prior),
                var.clamp_min_(0.0).mul_(keep).add_(self.running_var,
                                                    alpha=prior))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.prior == 0.0 and not self._single_value(x) and (
                (torch.is_grad_enabled() and x.requires_grad)
                or not self._cpu_sums(x)):
            # pure batch statistics: train-mode BN is one fused op, with the
            # gradient through the statistics (on the CPU without gradients
            # the sums and an eval-mode BN are faster from small maps on)
            return F.batch_norm(x, None, None, self.weight, self.bias, True,
                                0.0, self.eps)
        mean, var = self.mixed_stats(x)
        if mean.requires_grad or var.requires_grad:
            return self._normalise(x, mean, var)
        return torch.batch_norm(x, self.weight, self.bias, mean, var, False,
                                0.0, self.eps, torch.backends.cudnn.enabled)

    def _normalise(self, x: torch.Tensor, mean: torch.Tensor,
                   var: torch.Tensor) -> torch.Tensor:
        """BN written out: F.batch_norm forbids gradients through its
        statistics."""
        shape = _channel_shape(x)
        scale = torch.rsqrt(var + self.eps)
        if self.weight is not None:
            scale = scale * self.weight
        out = (x - mean.reshape(shape)) * scale.reshape(shape)
        return out + self.bias.reshape(shape) if self.bias is not None \
            else out

    def extra_repr(self) -> str:
        return f'{self.num_features}, prior={self.prior}, eps={self.eps}'
