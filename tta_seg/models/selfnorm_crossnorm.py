"""CrossNorm and SelfNorm layers, and a ResNetV1c that carries them.

Tang et al., "CrossNorm and SelfNorm for Generalization under Distribution
Shifts", ICCV 2021 (github.com/amazon-science/crossnorm-selfnorm). Inputs
are feature maps (N, C, H, W); statistics are per instance and channel.

* :class:`CrossNorm` (training only): re-styles ``x`` with the channel
  mean/std of another feature: ``(x - mu_x) / sigma_x * sigma_s + mu_s``.
  ``'2-instance'``: the style is another instance of the batch (random
  permutation, same channel); ``'1-instance'``: another channel of the
  same instance. ``crop``: ``'style'`` takes the style statistics from a
  random box, ``'content'`` re-styles only a random box, ``'both'``.
  Applied with probability ``p`` per forward; identity in eval mode.
* :class:`SelfNorm` (train and test): per-channel attention on
  ``(mu, sigma)`` recalibrates them: ``g * (x - mu) + f * mu`` with
  ``g = 2 sigmoid(a_g . [mu, sigma] + b_g)`` and ``f`` likewise (the
  official ``is_two=True``, the paper's mean and std recalibration; the
  default here and the form the shipped R18-SNCN model was trained with,
  ``configs/sncn/``). ``recalibrate_mean=False`` is the official single
  gate ``g * x`` (``is_two=False``, the official code's default), which
  scales mean and std together.

Both are mmseg/mmcv plugin layers (``in_channels`` argument, ``_abbr_``),
e.g. for a Bottleneck ResNet: ``plugins=[dict(cfg=dict(type=
'tta_seg.CrossNorm'), position='after_conv3'), dict(cfg=dict(type=
'tta_seg.SelfNorm'), position='after_conv3')]`` (the official "residual"
position; the ``tta_seg.`` prefix is needed because models inheriting
``mmseg::`` bases are built in mmseg's scope). mmseg's BasicBlock
(ResNet-18/34) rejects plugins, so :class:`ResNetV1cSNCN` appends
CrossNorm -> SelfNorm after whole stages instead.

Deviations: biased variances (a 1-pixel map stays finite); each CrossNorm
draws its own Bernoulli(``p``) instead of the official code's "one random
CrossNorm of the network with probability 0.5" (no global coordinator is
needed in a plugin); a box search that fails ``MAX_BOX_TRIES`` times uses
the whole map (the official loop never ends on tiny maps); SelfNorm has no
BatchNorm1d on the attention input and uses ``2 sigmoid`` with zero-init
weights, so a fresh layer is exactly the identity (the official one starts
at a random gate in (0, 1)) and works at batch size 1 in training.
"""
from collections import OrderedDict
from typing import Optional, Sequence, Tuple

import torch
from mmseg.models.backbones import ResNetV1c
from torch import nn

from tta_seg.registry import MODELS

CN_MODES = ('1-instance', '2-instance')
CROP_MODES = ('neither', 'style', 'content', 'both')
MAX_BOX_TRIES = 100
#: Range of the SelfNorm gates: 2 sigmoid(0) = 1 makes zero-init the identity
GATE_RANGE = 2.0
Box = Tuple[int, int, int, int]


def instance_stats(x: torch.Tensor, eps: float = 1e-5) -> Tuple[torch.Tensor,
                                                                 ...]:
    """Per (instance, channel) mean and ``sqrt(var + eps)``, (N, C, 1, ..)."""
    dims = tuple(range(2, x.dim()))
    var, mean = torch.var_mean(x, dim=dims, correction=0, keepdim=True)
    return mean, (var + eps).sqrt()


def transfer_stats(content: torch.Tensor, style: torch.Tensor,
                   eps: float = 1e-5) -> torch.Tensor:
    """Normalise ``content`` by its own statistics, apply ``style``'s."""
    c_mean, c_std = instance_stats(content, eps)
    s_mean, s_std = instance_stats(style, eps)
    return (content - c_mean) / c_std * s_std + s_mean


def random_box(height: int, width: int, beta: float, min_area: float) -> Box:
    """CutMix-style box ``(y1, y2, x1, x2)``: area ratio ~ Beta(beta, beta),
    uniform centre, kept if it covers more than ``min_area`` of the map."""
    ratio = torch.distributions.Beta(beta, beta)
    for _ in range(MAX_BOX_TRIES):
        cut = ratio.sample().sqrt().item()
        cy, cx = (torch.randint(n, ()).item() for n in (height, width))
        half_h, half_w = int(height * cut) // 2, int(width * cut) // 2
        y1, y2 = max(cy - half_h, 0), min(cy + half_h, height)
        x1, x2 = max(cx - half_w, 0), min(cx + half_w, width)
        if (y2 - y1) * (x2 - x1) > min_area * height * width:
            return y1, y2, x1, x2
    return 0, height, 0, width


@MODELS.register_module()
class CrossNorm(nn.Module):
    """Exchange channel mean/std between instances or channels (training).

    Args:
        in_channels (int, optional): Unused (mmcv plugin interface).
        mode (str): ``'2-instance'`` or ``'1-instance'``.
        crop (str): ``'neither'``, ``'style'``, ``'content'`` or ``'both'``.
        p (float): Probability of applying it to a training forward.
        beta (float): Box area ratio ~ Beta(beta, beta).
        min_area (float): Boxes cover more than this fraction of the map.
        eps (float): Added to the variances.
    """
    _abbr_ = 'cross_norm'

    def __init__(self, in_channels: Optional[int] = None,
                 mode: str = '2-instance', crop: str = 'neither',
                 p: float = 0.5, beta: float = 1.0, min_area: float = 0.1,
                 eps: float = 1e-5) -> None:
        super().__init__()
        if mode not in CN_MODES or crop not in CROP_MODES:
            raise ValueError(f'mode in {CN_MODES}, crop in {CROP_MODES}; '
                             f'got {mode!r}, {crop!r}')
        self.mode, self.crop, self.p = mode, crop, p
        self.beta, self.min_area, self.eps = beta, min_area, eps

    def extra_repr(self) -> str:
        return f'mode={self.mode}, crop={self.crop}, p={self.p}'

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or not torch.rand(()).item() < self.p:
            return x
        return self.cross(x)

    def box(self, x: torch.Tensor) -> Box:
        return random_box(x.shape[-2], x.shape[-1], self.beta, self.min_area)

    def style_of(self, x: torch.Tensor) -> torch.Tensor:
        """The tensor whose statistics replace those of ``x``."""
        style = x
        if self.crop in ('style', 'both'):
            y1, y2, x1, x2 = self.box(x)
            style = style[..., y1:y2, x1:x2]
        if self.mode == '2-instance':
            return style[torch.randperm(x.shape[0], device=x.device)]
        return style[:, torch.randperm(x.shape[1], device=x.device)]

    def cross(self, x: torch.Tensor) -> torch.Tensor:
        """Apply CrossNorm unconditionally."""
        style = self.style_of(x)
        if self.crop not in ('content', 'both'):
            return transfer_stats(x, style, self.eps)
        y1, y2, x1, x2 = self.box(x)
        out = x.clone()
        out[..., y1:y2, x1:x2] = transfer_stats(x[..., y1:y2, x1:x2], style,
                                                self.eps)
        return out


@MODELS.register_module()
class SelfNorm(nn.Module):
    """Recalibrate channel mean/std with a per-channel attention.

    Args:
        in_channels (int): Channels C.
        recalibrate_mean (bool): Gate the mean separately (``f``); else
            one gate scales the whole input (``f = g``).
        eps (float): Added to the variance.
    """
    _abbr_ = 'self_norm'

    def __init__(self, in_channels: int, recalibrate_mean: bool = True,
                 eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.std_weight = nn.Parameter(torch.zeros(in_channels, 2))
        self.std_bias = nn.Parameter(torch.zeros(in_channels))
        self.mean_weight = nn.Parameter(torch.zeros(in_channels, 2)) \
            if recalibrate_mean else None
        self.mean_bias = nn.Parameter(torch.zeros(in_channels)) \
            if recalibrate_mean else None

    @staticmethod
    def gate(stats: torch.Tensor, weight: torch.Tensor,
             bias: torch.Tensor) -> torch.Tensor:
        """(N, C, 2) statistics -> (N, C) gates in (0, GATE_RANGE)."""
        return GATE_RANGE * torch.sigmoid((stats * weight).sum(-1) + bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean, std = instance_stats(x, self.eps)
        stats = torch.stack((mean.flatten(1), std.flatten(1)), dim=-1)
        shape = mean.shape
        g = self.gate(stats, self.std_weight, self.std_bias).reshape(shape)
        if self.mean_weight is None:
            return g * x
        f = self.gate(stats, self.mean_weight, self.mean_bias).reshape(shape)
        return g * (x - mean) + f * mean


@MODELS.register_module()
class ResNetV1cSNCN(ResNetV1c):
    """mmseg ResNetV1c with CrossNorm -> SelfNorm after chosen stages.

    Args:
        sncn_stages (sequence of bool): One flag per stage.
        crossnorm (dict, optional): CrossNorm config (None: no CrossNorm).
        selfnorm (dict, optional): SelfNorm config (None: no SelfNorm).
        **kwargs: ResNetV1c arguments (``depth``, ``norm_cfg``...).
    """

    def __init__(self, sncn_stages: Sequence[bool] = (True, True, True, True),
                 crossnorm: Optional[dict] = dict(type='CrossNorm'),
                 selfnorm: Optional[dict] = dict(type='SelfNorm'),
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if len(sncn_stages) != self.num_stages:
            raise ValueError(f'{len(sncn_stages)} sncn_stages flags for '
                             f'{self.num_stages} stages')
        for i, (name, on) in enumerate(zip(self.res_layers, sncn_stages)):
            if not on:
                continue
            channels = self.base_channels * 2**i * self.block.expansion
            # own scope: the segmentor may be built in mmseg's
            layers = OrderedDict(
                (key, MODELS.build(dict(cfg, in_channels=channels),
                                   default_args=dict(_scope_=MODELS.scope)))
                for key, cfg in (('crossnorm', crossnorm),
                                 ('selfnorm', selfnorm)) if cfg is not None)
            getattr(self, name).append(nn.Sequential(layers))
