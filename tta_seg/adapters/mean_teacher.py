"""Mean-teacher base: student, EMA teacher and frozen source anchor.

The base of CoTTA-like methods (Wang et al., "Continual Test-Time Domain
Adaptation", CVPR 2022, github.com/qinenergy/cotta; the mean teacher of
Tarvainen & Valpola, NeurIPS 2017). Three copies of the source segmentor,
all registered submodules (so ``state_dict``, ``.to()``, checkpoints and
:meth:`reset` see them)::

    segmentor  student: every parameter trainable (optimizer), eval mode
    teacher    EMA of the student, no grad, eval mode
    anchor     frozen source model, never changes: the registered source
               copy (source confidence, stochastic restoration)

After every optimizer step (:meth:`after_update`), for every parameter::

    teacher = alpha_teacher * teacher + (1 - alpha_teacher) * student

Buffers: the official code averages parameters only. Every model here is
in eval mode, so BN running statistics never change and averaging them
would be a no-op; ``ema_buffers=True`` also averages floating-point buffers
(and copies integer ones) for subclasses that let statistics move.

The copies are made in ``__init__``, after :class:`BaseAdapter` loaded the
source weights. A subclass that swaps layers in :meth:`configure_model`
must swap them in all three copies.
"""
import copy

import torch

from .base import BaseAdapter, Metas


class MeanTeacherAdapter(BaseAdapter):
    """Student + EMA teacher + frozen anchor (no loss of its own).

    A base class, not registered: it has no loss (like :class:`BaseAdapter`).

    Args:
        alpha_teacher (float): EMA momentum of the teacher in [0, 1].
        ema_buffers (bool): Also average buffers (see module docstring).
        **kwargs: :class:`BaseAdapter` arguments.
    """

    def __init__(self, alpha_teacher: float = 0.999,
                 ema_buffers: bool = False, **kwargs) -> None:
        if not 0.0 <= alpha_teacher <= 1.0:
            raise ValueError(f'alpha_teacher must be in [0, 1], got '
                             f'{alpha_teacher}')
        super().__init__(**kwargs)
        self.alpha_teacher = alpha_teacher
        self.ema_buffers = ema_buffers
        self.teacher = copy.deepcopy(self.segmentor)
        self.anchor = copy.deepcopy(self.segmentor)
        self.teacher.requires_grad_(False)
        self.anchor.requires_grad_(False)

    def configure_model(self) -> None:
        """Student fully trainable; teacher and anchor frozen."""
        self.segmentor.requires_grad_(True)
        self.teacher.requires_grad_(False)
        self.anchor.requires_grad_(False)

    def after_update(self) -> None:
        self.update_teacher()

    @torch.no_grad()
    def update_teacher(self) -> None:
        """One EMA step of the teacher towards the current student."""
        alpha = self.alpha_teacher
        for teacher, student in zip(self.teacher.parameters(),
                                    self.segmentor.parameters()):
            teacher.mul_(alpha).add_(student, alpha=1.0 - alpha)
        if not self.ema_buffers:
            return
        for teacher, student in zip(self.teacher.buffers(),
                                    self.segmentor.buffers()):
            if teacher.is_floating_point():
                teacher.mul_(alpha).add_(student, alpha=1.0 - alpha)
            else:
                teacher.copy_(student)

    @torch.no_grad()
    def restore_to_source(self, prob: float) -> None:
        """Stochastic restoration (CoTTA): reset each element of each
        trainable student parameter to its source (anchor) value with
        probability ``prob``.

        The official code restores parameters named ``weight``/``bias``:
        all parameters of its SegFormer, whose q/kv were ``nn.Linear``.
        mmseg 1.x's MiT uses ``nn.MultiheadAttention`` (``in_proj_weight``),
        so every trainable parameter is restored here, not a name filter.
        Draws use the global torch RNG on the parameter's device (the
        official code draws on the CPU: same law, another stream).
        """
        if prob <= 0:
            return
        source = dict(self.anchor.named_parameters())
        for name, param in self.segmentor.named_parameters():
            if param.requires_grad:
                restore = torch.rand_like(param) < prob
                param.copy_(torch.where(restore, source[name], param))

    def predict_logits(self, inputs: torch.Tensor,
                       metas: Metas) -> torch.Tensor:
        """The teacher's prediction (the model a mean teacher reports)."""
        with torch.no_grad():
            return self.teacher.inference(inputs, metas)
