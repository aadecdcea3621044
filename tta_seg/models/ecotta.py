"""EcoTTA meta blocks and the memory-efficient wrapped segmentor.

Song et al., "EcoTTA: Memory-Efficient Continual Test-time Adaptation via
Self-distilled Regularization", CVPR 2023 (no official code; the structure
follows the paper's Fig. 3 / Algorithm 1 as reproduced in public
re-implementations). The adapter lives in ``tta_seg/adapters/ecotta.py``.

The frozen encoder is cut into K parts; part k maps the meta-augmented
output of the previous part to ``x_k = part_k(x~_{k-1})`` and its meta block
returns ``x~_k = BN_k(x_k) + g_k * ConvBNReLU_k(x~_{k-1})``
(shapes (N, C_k, H_k, W_k); the conv has stride H_{k-1} / H_k). The
self-distilled regulariser is ``sum_k mean|x~_k - sg(x_k)|``: the target is
the frozen part's output in the *same* forward pass, so it costs no extra
forward. The input stem (ResNet stem + max-pool, MiT stage-1 patch
embedding) is the paper's "input conv": it precedes every part.

Memory: the frozen parts and the decode head need no weight gradients, but
gradients must cross them to reach earlier meta blocks. PyTorch would keep
their activations for that, so each frozen segment (and the decode head)
runs under non-reentrant activation checkpointing: autograd stores only the
segment inputs and recomputes the segment during backward. Bytes autograd
saved in one step of DeepLabV3+ R50 at 272x480 (CPU, distinct storages):
TENT 950 MiB, EcoTTA 225 MiB, EcoTTA without checkpointing 1044 MiB (more
than TENT: the note in PROTOCOL.md), EcoTTA with 1x1 meta convs 140 MiB.
That recomputation would hold a whole segment's (or the whole head's)
activations at once during backward, e.g. all 40 blocks of MiT-B5's third
stage. With ``checkpoint_blocks`` every backbone block (ResNet residual
block, MiT transformer block) and every ``ConvModule`` of the decode head is
checkpointed again inside it (nested), so backward holds the inputs of one
segment's blocks plus one block's activations, for one more forward of the
frozen parts. Gradients are unchanged (tested).

Deliberate deviations (all so that the wrapped model equals the source
model exactly at initialisation, as required before warm-up):

* ``g_k`` is a per-channel gate initialised to 0 (ReZero/LayerScale-style).
  Zero-initialising the BN inside Conv-BN-ReLU instead would leave the ReLU
  at 0, where its gradient is 0: the branch could never learn.
* ``BN_k`` starts as the exact identity in eval mode (running mean 0,
  running var 1 - eps, weight 1, bias 0). On its first training-mode
  forward (warm-up, or test-time batch statistics) it is data-dependently
  re-initialised so that it is still ~identity on that batch (running
  stats = batch stats, weight = std, bias = mean); the paper starts from a
  default BN, which standardises the frozen features at the first step.
* The meta output is copied to the part output's memory layout when they
  differ (MiT stage outputs are NHWC views), which keeps the following
  kernels bit-identical.
* Partition granularity: ResNet residual blocks (``'layer2.1'``; a stage name
  ``'layer2'`` means its last block) and MiT stages (``'layers.1'``).
  Default: one meta block after every stage (K = 4). The paper's "denser in
  shallow layers" K = 5 for ResNet-50 can be written e.g.
  ``('layer1', 'layer2.1', 'layer2', 'layer3', 'layer4')``.
"""
import contextlib
import functools
import types
from typing import (Callable, Iterator, List, NamedTuple, Optional, Sequence,
                    Tuple)

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmseg.models.backbones import MixVisionTransformer, ResNet
from mmseg.models.segmentors import EncoderDecoder
from mmseg.models.utils import nchw_to_nlc, nlc_to_nchw
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from tta_seg.registry import MODELS
from tta_seg.utils.checkpoint import (extract_state_dict,
                                      load_checkpoint_file)

#: state-dict prefix of the meta blocks inside :class:`EcoTTASegmentor`.
META_PREFIX = 'meta_blocks.'
#: side of the dummy input used to infer part shapes at construction.
PROBE_SIZE = 64

PartOutputs = List[Tuple[Tensor, Tensor]]
#: ``wrap(fn, *args)`` runs a frozen block (directly or checkpointed).
Wrap = Callable[..., Tensor]


def _call(fn: Callable, *args):
    return fn(*args)


class MetaBlock(nn.Module):
    """One meta network: a BN on the part output plus a gated conv branch.

    Args:
        in_channels (int): Channels of the part input x~_{k-1}.
        out_channels (int): Channels of the part output x_k.
        stride (int): Spatial reduction of the part (H_{k-1} / H_k).
        kernel_size (int): Odd kernel size of the conv (paper: 3).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int,
                 kernel_size: int = 3) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(out_channels)
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride,
                              kernel_size // 2, bias=False)
        self.conv_norm = nn.BatchNorm2d(out_channels)
        self.gate = nn.Parameter(torch.zeros(out_channels))
        self.register_buffer('initialized', torch.tensor(False))
        with torch.no_grad():  # (x - 0) / sqrt(1 - eps + eps) == x exactly
            self.norm.running_var.fill_(1.0 - self.norm.eps)

    @torch.no_grad()
    def _init_from_batch(self, x: Tensor) -> None:
        """Make ``norm`` ~identity on batch ``x`` (data-dependent init)."""
        var, mean = torch.var_mean(x, dim=(0, 2, 3), correction=0)
        self.norm.running_mean.copy_(mean)
        self.norm.running_var.copy_(var)
        self.norm.weight.copy_(torch.sqrt(var + self.norm.eps))
        self.norm.bias.copy_(mean)
        self.initialized.fill_(True)

    def forward(self, x_frozen: Tensor, x_in: Tensor) -> Tensor:
        """Return x~_k from x_k (``x_frozen``) and x~_{k-1} (``x_in``)."""
        if self.training and not self.initialized:
            self._init_from_batch(x_frozen)
        branch = F.relu(self.conv_norm(self.conv(x_in)))
        if branch.shape != x_frozen.shape:
            raise RuntimeError(f'meta conv branch gives {tuple(branch.shape)} '
                               f'but the part gives {tuple(x_frozen.shape)}')
        out = self.norm(x_frozen) + self.gate.view(1, -1, 1, 1) * branch
        if out.stride() != x_frozen.stride():
            # keep the part's memory layout (MiT outputs are NHWC views):
            # another layout makes later kernels round differently
            out = torch.empty_like(x_frozen).copy_(out)
        return out


class Unit(NamedTuple):
    """A frozen backbone piece: NCHW -> NCHW; ``stage`` if it ends one."""
    name: str
    fn: Callable[[Tensor], Tensor]
    stage: Optional[int]


def _resnet_units(bb: ResNet, wrap: Wrap = _call
                  ) -> Tuple[Callable, List[Unit], dict]:
    """Stem, then one unit per residual block; aliases 'layerI' -> block."""

    def stem(x: Tensor) -> Tensor:
        x = bb.stem(x) if bb.deep_stem else bb.relu(bb.norm1(bb.conv1(x)))
        return bb.maxpool(x)

    units, aliases = [], {}
    for i, name in enumerate(bb.res_layers):
        layer = getattr(bb, name)
        for j, block in enumerate(layer):
            last = j == len(layer) - 1
            units.append(Unit(f'{name}.{j}', functools.partial(wrap, block),
                              i if last else None))
        aliases[name] = units[-1].name
    return stem, units, aliases


def _mit_stage(bb: MixVisionTransformer, i: int, x: Tensor,
               wrap: Wrap = _call) -> Tensor:
    patch_embed, blocks, norm = bb.layers[i]
    if i == 0:  # the patch embedding already ran as the stem
        hw_shape, x = x.shape[2:], nchw_to_nlc(x)
    else:
        x, hw_shape = patch_embed(x)
    for block in blocks:
        x = wrap(block, x, hw_shape)
    return nlc_to_nchw(norm(x), hw_shape)


def _mit_units(bb: MixVisionTransformer, wrap: Wrap = _call
               ) -> Tuple[Callable, List[Unit], dict]:
    """Stage-1 patch embedding as stem, then one unit per stage."""

    def stem(x: Tensor) -> Tensor:
        x, hw_shape = bb.layers[0][0](x)
        return nlc_to_nchw(x, hw_shape)

    units = [Unit(f'layers.{i}',
                  functools.partial(_mit_stage, bb, i, wrap=wrap), i)
             for i in range(len(bb.layers))]
    return stem, units, {}


def backbone_units(backbone: nn.Module, wrap: Wrap = _call
                   ) -> Tuple[Callable, List[Unit], dict]:
    """Split a supported backbone into ``(stem, units, aliases)``; ``wrap``
    runs each block (ResNet residual block, MiT transformer block)."""
    if isinstance(backbone, ResNet):
        return _resnet_units(backbone, wrap)
    if isinstance(backbone, MixVisionTransformer):
        return _mit_units(backbone, wrap)
    raise TypeError('EcoTTA supports mmseg ResNet and MixVisionTransformer '
                    f'backbones, not {type(backbone).__name__}')


def resolve_partition(units: List[Unit], aliases: dict,
                      partition: Optional[Sequence[str]]) -> List[int]:
    """Sorted unit indices after which a meta block is attached."""
    if partition is None:
        return [i for i, u in enumerate(units) if u.stage is not None]
    index = {u.name: i for i, u in enumerate(units)}
    cuts = set()
    for name in partition:
        name = aliases.get(name, name)
        if name not in index:
            raise KeyError(f'unknown partition point {name!r}; valid: '
                           f'{list(aliases) + list(index)}')
        cuts.add(index[name])
    if not cuts:
        raise ValueError('EcoTTA needs at least one partition point')
    return sorted(cuts)


def self_distillation_loss(parts: PartOutputs) -> Tensor:
    """``sum_k mean|x~_k - x_k|`` over ``(x_k, x~_k)`` pairs (x_k detached)."""
    if not parts:
        raise RuntimeError('no part outputs recorded: run a grad-enabled '
                           'forward of EcoTTASegmentor first')
    return sum((meta - frozen.detach()).abs().mean()
               for frozen, meta in parts)


def _needs_grad(args) -> bool:
    """Whether gradients must flow back through a call on ``args``."""
    leaves = [t for a in args
              for t in (a if isinstance(a, (list, tuple)) else [a])]
    return torch.is_grad_enabled() and any(
        isinstance(t, Tensor) and t.requires_grad for t in leaves)


def _checkpointed_forward(module: nn.Module, *args, **kwargs):
    """A frozen module's class ``forward``, checkpointed if gradients must
    cross it (set as its instance ``forward`` by :func:`checkpointed`)."""
    forward = functools.partial(type(module).forward, module)
    if _needs_grad(args):
        return checkpoint(forward, *args, use_reentrant=False, **kwargs)
    return forward(*args, **kwargs)


@contextlib.contextmanager
def checkpointed(modules: Sequence[nn.Module]) -> Iterator[None]:
    """Within the block, calls of ``modules`` are checkpointed (their own
    code calls them, so their ``forward`` is replaced, then restored)."""
    for module in modules:
        module.forward = types.MethodType(_checkpointed_forward, module)
    try:
        yield
    finally:
        for module in modules:
            del module.forward


def _run_units(units: Sequence[Unit], x: Tensor) -> Tuple[Tensor, ...]:
    """Run units; return the output then the inner stage-end outputs."""
    taps = []
    for i, unit in enumerate(units):
        x = unit.fn(x)
        if unit.stage is not None and i < len(units) - 1:
            taps.append(x)
    return (x, *taps)


@MODELS.register_module()
class EcoTTASegmentor(EncoderDecoder):
    """``EncoderDecoder`` whose frozen encoder is augmented by meta blocks.

    The original modules keep their names (source checkpoints and
    ``load_from`` load unchanged); the meta blocks are ``meta_blocks.k``.
    :meth:`extract_feat` runs the backbone part by part, so ``inference``,
    ``predict`` and ``loss`` keep working. The original network is always in
    eval mode with ``requires_grad=False``; only the meta blocks follow
    :meth:`train`. ``loss`` (source warm-up) trains the meta blocks with the
    heads' supervised losses, plus ``warmup_reg_weight`` times the
    regulariser (default 0: the public re-implementation warms up with
    cross-entropy only; the paper's warm-up loss is not verified here).

    Args:
        partition (Sequence[str], optional): Partition points (module
            docstring); None: after every backbone stage.
        checkpoint_frozen (bool): Recompute frozen segments and the decode
            head in backward instead of storing their activations.
        checkpoint_blocks (bool): With ``checkpoint_frozen``, recompute them
            block by block (module docstring).
        meta_kernel (int): Kernel of the meta convs (3 as in the paper; 1
            cuts DeepLabV3+ R50's 24.9 M meta parameters to 2.8 M).
        warmup_reg_weight (float): Weight of the regulariser in :meth:`loss`.
        **kwargs: :class:`EncoderDecoder` arguments.
    """

    def __init__(self, partition: Optional[Sequence[str]] = None,
                 checkpoint_frozen: bool = True,
                 checkpoint_blocks: bool = True, meta_kernel: int = 3,
                 warmup_reg_weight: float = 0.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.requires_grad_(False)
        self.checkpoint_frozen = checkpoint_frozen
        self.checkpoint_blocks = checkpoint_blocks
        self.warmup_reg_weight = warmup_reg_weight
        _, units, aliases = backbone_units(self.backbone)
        self.cuts = resolve_partition(units, aliases, partition)
        self.partition = [units[i].name for i in self.cuts]
        self.meta_blocks = nn.ModuleList(
            MetaBlock(*shape, kernel_size=meta_kernel)
            for shape in self._probe_part_shapes())
        self._part_outputs: PartOutputs = []
        self.train(self.training)

    @torch.no_grad()
    def _probe_part_shapes(self) -> List[Tuple[int, int, int]]:
        """``(C_in, C_out, stride)`` of every part, from a dummy forward."""
        stem, units, _ = backbone_units(self.backbone)
        first_conv = next(m for m in self.backbone.modules()
                          if isinstance(m, nn.Conv2d))
        mode = self.backbone.training
        self.backbone.eval()
        x = stem(torch.zeros(1, first_conv.in_channels, PROBE_SIZE,
                             PROBE_SIZE, device=first_conv.weight.device))
        shapes, start = [], 0
        for cut in self.cuts:
            y = _run_units(units[start:cut + 1], x)[0]
            shapes.append((x.shape[1], y.shape[1],
                           round(x.shape[2] / y.shape[2])))
            x, start = y, cut + 1
        self.backbone.train(mode)
        return shapes

    def train(self, mode: bool = True) -> 'EcoTTASegmentor':
        """The original network stays in eval mode; meta blocks follow."""
        super().train(False)
        if hasattr(self, 'meta_blocks'):
            self.meta_blocks.train(mode)
        self.training = mode
        return self

    def frozen_view(self) -> nn.Module:
        """The original modules under their own names (for source weights)."""
        view = nn.Module()
        for name, child in self.named_children():
            if name != 'meta_blocks':
                view.add_module(name, child)
        return view

    def _frozen(self, fn: Callable, *args):
        """Run a frozen function, checkpointed when gradients must cross."""
        if self.checkpoint_frozen and _needs_grad(args):
            return checkpoint(fn, *args, use_reentrant=False)
        return fn(*args)

    def _frozen_block(self, fn: Callable, *args):
        """Run a frozen block of a segment (see ``checkpoint_blocks``)."""
        if self.checkpoint_blocks:
            return self._frozen(fn, *args)
        return fn(*args)

    def _decode(self, inputs: List[Tensor]) -> Tensor:
        """``decode_head.forward``, ConvModule by ConvModule if
        ``checkpoint_blocks`` (and gradients must cross it)."""
        blocks = []
        if self.checkpoint_frozen and self.checkpoint_blocks:
            blocks = [m for m in self.decode_head.modules()
                      if isinstance(m, ConvModule)]
        with checkpointed(blocks):
            return self.decode_head.forward(inputs)

    def _run_backbone(self, inputs: Tensor) -> List[Tensor]:
        stem, units, _ = backbone_units(self.backbone, self._frozen_block)
        record = torch.is_grad_enabled()
        x, outs = stem(inputs), {}
        bounds = list(zip([0] + [c + 1 for c in self.cuts],
                          self.cuts + [len(units) - 1]))
        for k, (start, stop) in enumerate(bounds):
            if start > stop:  # the last cut is the last unit
                break
            seg = units[start:stop + 1]
            y, *taps = self._frozen(functools.partial(_run_units, seg), x)
            inner = [u.stage for u in seg[:-1] if u.stage is not None]
            outs.update(zip(inner, taps))
            if k < len(self.meta_blocks):
                y_meta = self.meta_blocks[k](y, x)
                if record:
                    self._part_outputs.append((y.detach(), y_meta))
                y = y_meta
            if seg[-1].stage is not None:
                outs[seg[-1].stage] = y
            x = y
        return [outs[i] for i in self.backbone.out_indices]

    def extract_feat(self, inputs: Tensor) -> List[Tensor]:
        x = self._run_backbone(inputs)
        return self.neck(x) if self.with_neck else x

    def encode_decode(self, inputs: Tensor,
                      batch_img_metas: List[dict]) -> Tensor:
        x = self.extract_feat(inputs)
        logits = self._frozen(self._decode, x)
        return self.decode_head.predict_by_feat(logits, batch_img_metas)

    def inference(self, inputs: Tensor, batch_img_metas: List[dict]):
        self._part_outputs = []
        return super().inference(inputs, batch_img_metas)

    def loss(self, inputs: Tensor, data_samples) -> dict:
        """Supervised warm-up loss of the meta blocks (source data)."""
        self._part_outputs = []
        losses = super().loss(inputs, data_samples)
        parts = self.pop_part_outputs()
        if self.warmup_reg_weight > 0:
            losses['loss_distill'] = (self.warmup_reg_weight *
                                      self_distillation_loss(parts))
        return losses

    @property
    def part_outputs(self) -> PartOutputs:
        """``[(x_k detached, x~_k)]`` recorded by grad-enabled forwards since
        the last ``inference``/``loss`` call (references, no copies)."""
        return self._part_outputs

    def pop_part_outputs(self) -> PartOutputs:
        """Return and forget the recorded part outputs."""
        parts, self._part_outputs = self._part_outputs, []
        return parts


def load_meta_weights(segmentor: EcoTTASegmentor, path: str,
                      allow_unsafe: bool = False) -> None:
    """Load warmed-up meta blocks (any key prefix before ``meta_blocks.``)."""
    state = extract_state_dict(load_checkpoint_file(path, allow_unsafe))
    meta = {k.split(META_PREFIX, 1)[1]: v for k, v in state.items()
            if META_PREFIX in k}
    if not meta:
        raise KeyError(f'{path} holds no {META_PREFIX}* weights: not an '
                       'EcoTTA warm-up checkpoint?')
    segmentor.meta_blocks.load_state_dict(meta, strict=True)
