"""Hybrid-TTA layers: parallel MLP adapters, masked image modelling (mask,
reconstruction decoder, masked L1) and the dynamic domain-shift detector.

Hybrid-TTA (ICCV 2025; official code github.com/hhhyyeee/Hybrid-TTA, read
for reference only). The adapter that uses these is
``tta_seg/adapters/hybrid_tta.py``; the deviations are listed there.

Shapes: images (N, 3, H, W) after the data preprocessor (normalised);
MiT tokens (N, L, C); pixel masks (N, H, W) bool, True = masked.
"""
import math
from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmseg.models.backbones import MixVisionTransformer, ResNet
from mmseg.models.backbones.mit import MixFFN
from mmseg.models.backbones.resnet import BasicBlock, Bottleneck
from torch import Tensor, nn

#: Substring of every adapter parameter name (frozen-set exclusion).
ADAPTER_KEY = 'hybrid_adapter'


class MLPAdapter(nn.Module):
    """``scale * up(GELU(down(x)))``: d -> ``hidden`` -> d; down projection
    truncated normal (std 0.02) with zero bias, as the official backbone's
    ``_init_weights`` leaves it; up projection zero-initialised (the
    injected model starts at its source output); ``scale`` a learnable
    scalar (1.0 at start).

    Args:
        channels (int): d (tokens (N, L, d), or NCHW channels with ``conv``).
        hidden (int): Width of the bottleneck (official: 5).
        out_channels (int, optional): Output channels (default d).
        stride (int): Stride of the down projection (convolutional form).
        conv (bool): 1x1 convolutions on NCHW maps instead of linear maps.
    """

    def __init__(self, channels: int, hidden: int = 5,
                 out_channels: int = None, stride: int = 1,
                 conv: bool = False) -> None:
        super().__init__()
        out_channels = out_channels or channels
        if conv:
            self.down = nn.Conv2d(channels, hidden, 1, stride=stride)
            self.up = nn.Conv2d(hidden, out_channels, 1)
        else:
            self.down = nn.Linear(channels, hidden)
            self.up = nn.Linear(hidden, out_channels)
        nn.init.trunc_normal_(self.down.weight, std=0.02)
        nn.init.zeros_(self.down.bias)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x: Tensor) -> Tensor:
        return self.scale * self.up(F.gelu(self.down(x)))


def _add_adapter_output(module: nn.Module, args: tuple, output: Tensor
                        ) -> Tensor:
    """Forward hook: MixFFN's output (identity + MLP(norm2(x))) plus the
    adapter of its input norm2(x); a residual block's output plus the
    adapter of the block's input."""
    return output + module.hybrid_adapter(args[0])


def inject_adapters(model: nn.Module, hidden: int = 5) -> List[str]:
    """Give every MiT block's Mix-FFN (or every ResNet residual block) a
    parallel :class:`MLPAdapter` (a registered child ``hybrid_adapter``
    and a forward hook). Idempotent. Returns the injected module names.

    Raises:
        ValueError: ``model`` has no MiT or ResNet backbone.
    """
    backbone = getattr(model, 'backbone', None)
    if not isinstance(backbone, (MixVisionTransformer, ResNet)):
        raise ValueError(
            'HybridTTA needs an EncoderDecoder with a MixVisionTransformer '
            f'or ResNet backbone, got {type(backbone).__name__}')
    done = []
    for name, module in backbone.named_modules():
        if hasattr(module, ADAPTER_KEY):
            continue
        if isinstance(module, MixFFN):
            adapter = MLPAdapter(module.embed_dims, hidden)
        elif isinstance(module, (BasicBlock, Bottleneck)):
            last = module.conv3 if isinstance(module, Bottleneck) \
                else module.conv2
            stride = module.conv1.stride[0] * module.conv2.stride[0]
            adapter = MLPAdapter(module.conv1.in_channels, hidden,
                                 last.out_channels, stride, conv=True)
        else:
            continue
        weight = next(module.parameters())
        module.add_module(ADAPTER_KEY, adapter.to(weight))
        module.register_forward_hook(_add_adapter_output)
        done.append(f'backbone.{name}')
    return done


def block_parameters(model: nn.Module) -> List[nn.Parameter]:
    """The parameters efficient tuning freezes: those of the backbone's
    blocks (MiT transformer blocks, ResNet residual stages), adapters
    excluded. Patch embeddings, stage norms, the stem and the decode head
    stay trainable, as in the official code."""
    backbone = model.backbone
    if isinstance(backbone, MixVisionTransformer):
        blocks = [layer[1] for layer in backbone.layers]
    else:
        blocks = [getattr(backbone, name) for name in backbone.res_layers]
    return [p for block in blocks for n, p in block.named_parameters()
            if ADAPTER_KEY not in n]


def patch_mask(n: int, height: int, width: int, patch: int = 32,
               ratio: float = 0.6, device=None) -> Tensor:
    """SimMIM's random patch mask: per image, ``ceil(ratio * P)`` of the
    P = ceil(H / patch) * ceil(W / patch) patches, drawn from the global
    torch RNG. Returns (N, H, W) bool, True = masked."""
    gh, gw = math.ceil(height / patch), math.ceil(width / patch)
    count = math.ceil(ratio * gh * gw)
    grid = torch.zeros(n, gh * gw, dtype=torch.bool)
    for i in range(n):
        grid[i, torch.randperm(gh * gw)[:count]] = True
    grid = grid.view(n, gh, gw)
    pixels = grid.repeat_interleave(patch, 1).repeat_interleave(patch, 2)
    return pixels[:, :height, :width].to(device)


def masked_features(segmentor: nn.Module, inputs: Tensor, mask: Tensor,
                    token: Tensor) -> Tuple[Tensor, ...]:
    """``segmentor.extract_feat`` of the masked image. MiT: the tokens of
    the first patch embedding under the mask (sampled at the token grid)
    become the mask token (C,), as SimMIM; other backbones: the masked
    pixels become the token (3,)."""
    backbone = segmentor.backbone
    if not isinstance(backbone, MixVisionTransformer):
        pixels = torch.where(mask[:, None], token.view(1, -1, 1, 1), inputs)
        return segmentor.extract_feat(pixels)

    def replace(module, args, output):
        tokens, hw_shape = output
        stride = math.ceil(inputs.shape[-1] / hw_shape[1])
        grid = mask[:, ::stride, ::stride][:, :hw_shape[0], :hw_shape[1]]
        grid = grid.reshape(grid.shape[0], -1, 1)
        return torch.where(grid, token.to(tokens.dtype), tokens), hw_shape

    handle = backbone.layers[0][0].register_forward_hook(replace)
    try:
        return segmentor.extract_feat(inputs)
    finally:
        handle.remove()


class ReconstructionDecoder(nn.Module):
    """SimMIM-style decoder over all feature levels (official neck): each
    level 1x1 -> ``channels``, resized to the first level, concatenated,
    1x1 + ReLU -> ``channels``, 1x1 -> 3 * s^2 and PixelShuffle(s), s the
    first level's stride; resized to the input if needed.

    Args:
        in_channels (Sequence[int]): Channels of the feature levels.
        channels (int): Embedding width (official: 768, for B5).
        stride (int): Stride of the first level (4 for MiT and ResNet).
    """

    def __init__(self, in_channels: Sequence[int], channels: int = 768,
                 stride: int = 4) -> None:
        super().__init__()
        self.embed = nn.ModuleList(
            nn.Conv2d(c, channels, 1) for c in in_channels)
        self.fuse = nn.Conv2d(channels * len(in_channels), channels, 1)
        self.pixels = nn.Conv2d(channels, 3 * stride ** 2, 1)
        self.shuffle = nn.PixelShuffle(stride)

    def forward(self, feats: Sequence[Tensor], size) -> Tensor:
        first = feats[0].shape[-2:]
        maps = [F.interpolate(e(f), size=first, mode='bilinear',
                              align_corners=False) if f.shape[-2:] != first
                else e(f) for e, f in zip(self.embed, feats)]
        out = self.shuffle(self.pixels(F.relu(self.fuse(torch.cat(maps, 1)))))
        if out.shape[-2:] != tuple(size):
            out = F.interpolate(out, size=size, mode='bilinear',
                                align_corners=False)
        return out


def masked_l1(recon: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Mean absolute error over the masked pixels and the channels:
    ``sum(|recon - target| * m) / (sum(m) * C)`` (SimMIM / official)."""
    m = mask[:, None].to(recon.dtype)
    return (recon - target).abs().mul(m).sum() / (
        m.sum().clamp_min(1.0) * recon.shape[1])


class DomainShiftDetector(nn.Module):
    """Dynamic domain-shift detection (DDSD) on the student's per-step
    segmentation loss L_t: full tuning while fewer than ``window`` losses
    were seen, or while the mean of the last ``window`` is at least
    ``(1 + margin) * tau``; efficient tuning otherwise. After each
    decision ``tau <- momentum * tau + (1 - momentum) * L_t`` (tau starts
    at 0, as in the official code). State in buffers (reset, resume).

    Args:
        window (int): Losses averaged (official: 10).
        momentum (float): EMA momentum of tau (official: 0.999).
        margin (float): Relative margin (official: 0.1).
    """

    def __init__(self, window: int = 10, momentum: float = 0.999,
                 margin: float = 0.1) -> None:
        super().__init__()
        if window < 1 or not 0.0 <= momentum <= 1.0 or margin < 0:
            raise ValueError('DDSD needs window >= 1, momentum in [0, 1] '
                             'and margin >= 0')
        self.window, self.momentum, self.margin = window, momentum, margin
        self.register_buffer('losses',
                             torch.zeros(window, dtype=torch.float64))
        self.register_buffer('seen', torch.zeros((), dtype=torch.long))
        self.register_buffer('tau', torch.zeros((), dtype=torch.float64))
        self.register_buffer('efficient', torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def step(self, loss: float) -> bool:
        """Record L_t; return whether this step is efficient tuning."""
        self.losses[int(self.seen) % self.window] = float(loss)
        self.seen += 1
        efficient = bool(self.seen >= self.window) and float(
            self.losses.mean()) < (1.0 + self.margin) * float(self.tau)
        self.tau.mul_(self.momentum).add_((1.0 - self.momentum) * float(loss))
        self.efficient.fill_(efficient)
        return efficient
