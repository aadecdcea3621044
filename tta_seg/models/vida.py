"""ViDA layers: low- and high-rank visual domain adapters beside source layers.

Liu et al., "ViDA: Homeostatic Visual Domain Adapter for Continual Test Time
Adaptation", ICLR 2024 (arXiv 2306.04344; classification code
github.com/Yangsenqiao/vida, ``inject_vida.py``). The adapter lives in
``tta_seg/adapters/vida.py``.

A source layer ``f`` (weights kept, frozen) gets a parallel branch::

    out = f(x) + lambda_l * up_l(down_l(x)) + lambda_h * up_h(down_h(x))

with ranks r_l (low, domain-shared; code: 1) and r_h (high,
domain-specific; code: 128). Initialisation as the official code: down
weights ~ N(0, (1 / r^2)^2), up weights zero, so every injected model starts
*exactly* at its source output. ``lambda`` are the HKA scale factors (1 by
default), a float or one value per sample, shape (N,), broadcast over the
batch dimension of the output (batch-first outputs only).

Where branches go (:func:`inject_vida`, one helper for every model):

* ``nn.Linear`` (input (..., C_in)): down/up are linear maps.
* ``nn.Conv2d`` with ``groups == 1`` (NCHW): down is a conv with the
  layer's kernel, stride, padding and dilation to r channels, up a 1x1 conv,
  so the branch sees the layer's receptive field and output grid (as
  LoRA-for-conv designs do). Depthwise convs are never targeted.
* ``nn.MultiheadAttention`` (mmseg 1.x MiT): its q/k/v projections run
  inside ``F.multi_head_attention_forward``, so the module is swapped for
  :class:`ViDAMultiheadAttention` (same parameters and names) which adds a
  branch to the query, key, value and output projections.

Linear and conv layers keep their class and parameter names: the branch is
a registered child ``vida`` added by a forward hook, so source checkpoints
load unchanged and the new keys all contain ``vida``. Branch weights are
raw parameters (not ``nn.Linear``/``nn.Conv2d`` children), so mmseg's
``init_weights`` walkers never re-initialise them.

Default targets (:func:`default_vida_targets`): attention of an MiT backbone
(the official code adapts the linear layers of ViT ``Attention`` blocks;
SegFormer's q, kv and proj), the 3x3/1x1 convs inside the residual blocks
of a ResNet backbone (the CNN's learned linear maps; stem and shortcuts are
left out), and otherwise every eligible layer of the model.
"""
import re
from typing import List, Optional, Union

import torch
import torch.nn.functional as F
from mmseg.models.backbones import MixVisionTransformer, ResNet
from mmseg.models.segmentors import EncoderDecoder
from torch import Tensor, nn

from tta_seg.registry import MODELS
from tta_seg.utils.checkpoint import (extract_state_dict,
                                      load_checkpoint_file)

Scale = Union[float, Tensor]
#: substring of every ViDA parameter name (``--export-only`` of a warm-up).
VIDA_KEY = 'vida'


def _broadcast(scale: Scale, out: Tensor) -> Scale:
    """A per-sample scale (N,) viewed as (N, 1, ..., 1) against ``out``."""
    if not torch.is_tensor(scale) or scale.dim() == 0:
        return scale
    if scale.shape[0] != out.shape[0]:
        raise ValueError(f'{scale.shape[0]} per-sample ViDA scales for a '
                         f'batch of {out.shape[0]}')
    return scale.view(-1, *[1] * (out.dim() - 1)).to(out.dtype)


class ViDABranch(nn.Module):
    """Low-rank plus high-rank adapter: (N, C_in, ...) -> (N, C_out, ...).

    Args:
        in_channels (int): Input features (channels of a conv).
        out_channels (int): Output features.
        rank_low (int): Width of the low-rank (domain-shared) adapter.
        rank_high (int): Width of the high-rank (domain-specific) adapter.
        conv (nn.Conv2d, optional): The wrapped conv, whose kernel, stride,
            padding and dilation the down projections take; None: linear.
    """

    def __init__(self, in_channels: int, out_channels: int, rank_low: int,
                 rank_high: int, conv: Optional[nn.Conv2d] = None) -> None:
        super().__init__()
        kernel = tuple(conv.kernel_size) if conv is not None else ()
        self.conv_args = {} if conv is None else dict(
            stride=conv.stride, padding=conv.padding, dilation=conv.dilation)
        tail = (1, 1) if conv is not None else ()
        self.ranks = (rank_low, rank_high)
        self.low_down = nn.Parameter(torch.empty(rank_low, in_channels,
                                                 *kernel))
        self.low_up = nn.Parameter(torch.empty(out_channels, rank_low, *tail))
        self.high_down = nn.Parameter(torch.empty(rank_high, in_channels,
                                                  *kernel))
        self.high_up = nn.Parameter(torch.empty(out_channels, rank_high,
                                                *tail))
        self.scale_low: Scale = 1.0
        self.scale_high: Scale = 1.0
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Official init: down ~ N(0, std=1/r^2), up = 0 (branch output 0)."""
        for down, up, rank in ((self.low_down, self.low_up, self.ranks[0]),
                               (self.high_down, self.high_up, self.ranks[1])):
            down.normal_(0.0, 1.0 / rank**2)
            up.zero_()

    def _path(self, x: Tensor, down: Tensor, up: Tensor) -> Tensor:
        if self.conv_args:
            return F.conv2d(F.conv2d(x, down, **self.conv_args), up)
        return F.linear(F.linear(x, down), up)

    def forward(self, x: Tensor) -> Tensor:
        low = self._path(x, self.low_down, self.low_up)
        high = self._path(x, self.high_down, self.high_up)
        return (_broadcast(self.scale_low, low) * low +
                _broadcast(self.scale_high, high) * high)


def _add_vida_output(module: nn.Module, args: tuple, output: Tensor):
    """Forward hook of an injected linear/conv layer: f(x) + branch(x)."""
    return output + module.vida(args[0])


class ViDAMultiheadAttention(nn.MultiheadAttention):
    """``nn.MultiheadAttention`` with ViDA branches on q, k, v and output.

    Built by :meth:`from_attention`, sharing the source parameters (same
    names). No attention masks (MiT uses none); eval-time attention dropout
    only when ``training``. Returns ``(out, None)`` (no weights).
    """

    @classmethod
    def from_attention(cls, attn: nn.MultiheadAttention, rank_low: int,
                       rank_high: int) -> 'ViDAMultiheadAttention':
        if not attn._qkv_same_embed_dim or attn.bias_k is not None:
            raise TypeError('ViDA supports attention with equal q/k/v '
                            'dimensions and no bias_k/bias_v')
        weight = attn.in_proj_weight
        new = cls(attn.embed_dim, attn.num_heads, dropout=attn.dropout,
                  bias=attn.in_proj_bias is not None,
                  batch_first=attn.batch_first, device=weight.device,
                  dtype=weight.dtype)
        new.in_proj_weight, new.in_proj_bias = weight, attn.in_proj_bias
        new.out_proj = attn.out_proj  # the source parameters, shared
        new.train(attn.training)
        for name in ('q', 'k', 'v', 'out'):
            dim = attn.embed_dim
            new.add_module(f'vida_{name}', ViDABranch(
                dim, dim, rank_low, rank_high).to(weight))
        return new

    def forward(self, query: Tensor, key: Tensor, value: Tensor,
                key_padding_mask=None, need_weights: bool = False,
                attn_mask=None, **kwargs):
        if key_padding_mask is not None or attn_mask is not None:
            raise NotImplementedError('ViDA attention takes no masks')
        if not self.batch_first:  # (L, N, C) -> (N, L, C)
            query, key, value = (t.transpose(0, 1)
                                 for t in (query, key, value))
        weights = self.in_proj_weight.chunk(3)
        biases = self.in_proj_bias.chunk(3) if self.in_proj_bias \
            is not None else (None, ) * 3
        q, k, v = (F.linear(x, w, b) + branch(x) for x, w, b, branch in zip(
            (query, key, value), weights, biases,
            (self.vida_q, self.vida_k, self.vida_v)))
        n, heads = q.shape[0], self.num_heads
        q, k, v = (t.reshape(n, -1, heads, self.head_dim).transpose(1, 2)
                   for t in (q, k, v))
        out = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.dropout if self.training else 0.0)
        out = out.transpose(1, 2).reshape(n, -1, self.embed_dim)
        out = self.out_proj(out) + self.vida_out(out)
        return (out if self.batch_first else out.transpose(0, 1)), None


def default_vida_targets(model: nn.Module) -> str:
    """Regex of the module names that get ViDA branches (module docstring)."""
    backbone = getattr(model, 'backbone', None)
    if isinstance(backbone, MixVisionTransformer):
        return r'^backbone\..*\.attn\.attn$'
    if isinstance(backbone, ResNet):
        return r'^backbone\.layer\d+\.\d+\.conv\d+$'
    return r'.*'


def _eligible(module: nn.Module) -> bool:
    if isinstance(module, nn.Conv2d):
        return module.groups == 1 and module.padding_mode == 'zeros'
    return isinstance(module, (nn.Linear, nn.MultiheadAttention))


def inject_vida(model: nn.Module, rank_low: int = 1, rank_high: int = 128,
                targets: Optional[str] = None) -> List[str]:
    """Add ViDA branches to the eligible layers whose name matches
    ``targets`` (regex; None: :func:`default_vida_targets`). Layers inside
    an attention module are reached through it. Idempotent on an injected
    model (returns ``[]``). Returns the injected module names."""
    if vida_branches(model):
        return []
    pattern = re.compile(targets or default_vida_targets(model))
    chosen, inside = [], ()
    for name, module in model.named_modules():
        if inside and name.startswith(inside):
            continue
        if isinstance(module, nn.MultiheadAttention):
            inside += (name + '.', )
        if name and _eligible(module) and pattern.search(name):
            chosen.append((name, module))
    if not chosen:
        raise ValueError(f'ViDA found no linear/conv/attention layer matching '
                         f'{pattern.pattern!r} in {type(model).__name__}')
    for name, module in chosen:
        _inject_one(model, name, module, rank_low, rank_high)
    return [name for name, _ in chosen]


def _inject_one(model: nn.Module, name: str, module: nn.Module,
                rank_low: int, rank_high: int) -> None:
    if isinstance(module, nn.MultiheadAttention):
        parent, _, child = name.rpartition('.')
        owner = model.get_submodule(parent) if parent else model
        setattr(owner, child, ViDAMultiheadAttention.from_attention(
            module, rank_low, rank_high))
        return
    if isinstance(module, nn.Conv2d):
        branch = ViDABranch(module.in_channels, module.out_channels, rank_low,
                            rank_high, conv=module)
    else:
        branch = ViDABranch(module.in_features, module.out_features,
                            rank_low, rank_high)
    module.add_module('vida', branch.to(module.weight))
    module.register_forward_hook(_add_vida_output)


def vida_branches(model: nn.Module) -> List[ViDABranch]:
    """Every ViDA branch of ``model``."""
    return [m for m in model.modules() if isinstance(m, ViDABranch)]


def vida_parameters(model: nn.Module) -> List[nn.Parameter]:
    """Parameters of every ViDA branch of ``model``."""
    return [p for b in vida_branches(model) for p in b.parameters()]


def set_vida_scales(model: nn.Module, low: Scale, high: Scale) -> None:
    """Set the HKA factors lambda_l, lambda_h of every branch."""
    for branch in vida_branches(model):
        branch.scale_low, branch.scale_high = low, high


def load_vida_weights(model: nn.Module, path: str,
                      allow_unsafe: bool = False) -> None:
    """Load warmed-up ViDA weights (keys containing ``vida``) strictly."""
    state = extract_state_dict(load_checkpoint_file(path, allow_unsafe), path)
    state = {k: v for k, v in state.items() if VIDA_KEY in k}
    own = {k: p.shape for k, p in model.named_parameters() if VIDA_KEY in k}
    wrong = sorted(k for k in set(state) & set(own)
                   if state[k].shape != own[k])
    if not state or set(state) != set(own) or wrong:
        missing = sorted(set(own) - set(state))
        extra = sorted(set(state) - set(own))
        raise KeyError(f'{path} does not fit the injected model: missing '
                       f'{missing[:3]}, unexpected {extra[:3]}, other shape '
                       f'{wrong[:3]} (same ranks and targets as the '
                       'warm-up?)')
    model.load_state_dict(state, strict=False)


#: ranges of the official teacher augmentation (CoTTA's strong
#: ``get_tta_transforms``): colour jitter, Gaussian blur, flip, noise.
AUGMENT = dict(brightness=(0.6, 1.4), contrast=(0.7, 1.3),
               saturation=(0.5, 1.5), gamma=(0.7, 1.3),
               blur_sigma=(0.001, 0.5), blur_kernel=5, flip_prob=0.5,
               noise_std=0.005)
#: ITU-R 601 luma weights of RGB (torchvision's grayscale)
LUMA = (0.299, 0.587, 0.114)


def _uniform(bounds) -> float:
    low, high = bounds
    return low + (high - low) * torch.rand(()).item()


def _gray(x: Tensor) -> Tensor:
    weights = x.new_tensor(LUMA).view(1, 3, 1, 1)
    return (x * weights).sum(dim=1, keepdim=True)


def _jitter(x: Tensor, op: str, factor: float) -> Tensor:
    """One colour-jitter op on RGB images in [0, 1] (N, 3, H, W)."""
    if op == 'brightness':
        return (x * factor).clamp(0, 1)
    if op == 'gamma':
        return x.clamp(min=0) ** factor
    gray = _gray(x)
    if op == 'contrast':
        gray = gray.mean(dim=(1, 2, 3), keepdim=True)
    return (factor * x + (1 - factor) * gray).clamp(0, 1)


def _gaussian_blur(x: Tensor, sigma: float, size: int) -> Tensor:
    """Separable Gaussian blur with reflect padding (torchvision's)."""
    half = (size - 1) / 2
    taps = torch.linspace(-half, half, size, device=x.device, dtype=x.dtype)
    kernel = torch.exp(-0.5 * (taps / sigma)**2)
    kernel = (kernel / kernel.sum()).repeat(x.shape[1], 1, 1, 1)
    pad = size // 2
    x = F.pad(x, (pad, pad, pad, pad), mode='reflect')
    x = F.conv2d(x, kernel.view(-1, 1, 1, size), groups=x.shape[1])
    return F.conv2d(x, kernel.view(-1, 1, size, 1), groups=x.shape[1])


def augmented_view(images: Tensor, cfg: dict = AUGMENT):
    """A random view of RGB images in [0, 1] (N, 3, H, W) and whether it
    is flipped; one draw of the global torch RNG shared by the batch (as
    the official transform of a batch tensor). Photometric only: the
    official random affine is left out (it would move pixels)."""
    x = images
    ops = ('brightness', 'contrast', 'saturation', 'gamma')
    for i in torch.randperm(len(ops)).tolist():
        x = _jitter(x, ops[i], _uniform(cfg[ops[i]]))
    x = _gaussian_blur(x, _uniform(cfg['blur_sigma']), cfg['blur_kernel'])
    flip = bool(torch.rand(()) < cfg['flip_prob'])
    if flip:
        x = x.flip(-1)
    x = x + cfg['noise_std'] * torch.randn_like(x)
    return x.clamp(0, 1), flip


def _unit_range(pre: nn.Module, inputs: Tensor):
    """``(mean, std)`` of the data preprocessor (0-255 scale) as tensors."""
    mean, std = getattr(pre, 'mean', None), getattr(pre, 'std', None)
    mean = inputs.new_zeros(1, 1, 1) if mean is None else mean
    return mean, inputs.new_ones(1, 1, 1) if std is None else std


def view_variance(predict, inputs: Tensor, metas: List[dict], views: int,
                  preprocessor: nn.Module) -> Tensor:
    """Mean over (C, H, W) of the variance (unbiased, as ``torch.var`` in
    the code) of ``predict`` logits over ``views`` augmented views, (N,).

    ``inputs`` (N, 3, H, W) are normalised by ``preprocessor`` (RGB, as its
    ``bgr_to_rgb``); each view is drawn on the [0, 1] image
    (:func:`augmented_view`), normalised again, predicted and un-flipped.
    """
    mean, std = _unit_range(preprocessor, inputs)
    images = (inputs * std + mean) / 255.0
    outputs = []
    for _ in range(views):
        view, flipped = augmented_view(images)
        logits = predict((view * 255.0 - mean) / std, metas)
        outputs.append(logits.flip(-1) if flipped else logits)
    return torch.stack(outputs).var(dim=0).flatten(1).mean(dim=1)


@MODELS.register_module()
class ViDASegmentor(EncoderDecoder):
    """``EncoderDecoder`` with frozen source weights and trainable ViDAs.

    For the source warm-up of the adapters (``tools/train.py``,
    ``configs/vida/vida-warmup_*.py``): ``loss`` is the heads' supervised
    loss, only ViDA parameters require grad, the source modules stay in eval
    mode (BN statistics frozen), and ``init_weights`` leaves the branches at
    their official initialisation (the model starts at the source output).

    Args:
        rank_low (int): Low-rank width.
        rank_high (int): High-rank width.
        vida_targets (str, optional): Regex of injected module names.
        **kwargs: :class:`EncoderDecoder` arguments.
    """

    def __init__(self, rank_low: int = 1, rank_high: int = 128,
                 vida_targets: Optional[str] = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.requires_grad_(False)
        inject_vida(self, rank_low, rank_high, vida_targets)

    def init_weights(self) -> None:
        super().init_weights()
        for branch in vida_branches(self):
            branch.reset_parameters()

    def train(self, mode: bool = True) -> 'ViDASegmentor':
        """Source modules stay in eval mode; only the flag follows."""
        super().train(False)
        self.training = mode
        return self
