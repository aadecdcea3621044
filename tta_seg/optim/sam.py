"""SAM: sharpness-aware minimisation as a two-step optimizer.

Foret et al., "Sharpness-Aware Minimization for Efficiently Improving
Generalization", ICLR 2021; the wrapper form popularised by
github.com/davda54/sam and used by SAR (github.com/mr-eggplant/SAR).

One SAM update of parameters ``w`` with base optimizer ``B``::

    g1 = grad L(w)                                   (caller: backward)
    first_step():   e = rho * g1 / ||g1||_2 ;  w <- w + e
    g2 = grad L(w + e)                               (caller: backward)
    second_step():  w <- w (restored) ;  B.step() with g2

``||g1||_2`` is the norm over *all* parameters of all groups. With
``adaptive=True`` (ASAM, Kwon et al. 2021) the perturbation is
``e = rho * w^2 * g1 / ||w * g1||_2``.

mmengine integration: :meth:`step` without a pending perturbation is a
plain base-optimizer step, and after :meth:`first_step` it is
:meth:`second_step`; so ``OptimWrapper.update_params(loss)`` performs the
second step (with gradient clipping, if configured). The base optimizer
shares the parameter groups (a scheduler changing ``lr`` reaches it) and
its state (e.g. SGD momentum) is what :meth:`state_dict` saves, so an
adapter's exact ``reset`` restores it.
"""
from typing import Callable, Iterable, Optional

import torch
from torch.optim import Optimizer

from tta_seg.registry import OPTIMIZERS

#: Added to the gradient norm (as in the reference implementations).
GRAD_NORM_EPS = 1e-12


@OPTIMIZERS.register_module()
class SAM(Optimizer):
    """Sharpness-aware wrapper around a base optimizer.

    Args:
        params (iterable): Parameters or parameter-group dicts.
        base_optimizer (dict): Config of the optimizer that takes the actual
            step, e.g. ``dict(type='SGD', lr=2.5e-4, momentum=0.9)``.
        rho (float): Radius of the perturbation (L2 norm).
        adaptive (bool): ASAM's scale-invariant perturbation.
    """

    def __init__(self, params: Iterable, base_optimizer: dict,
                 rho: float = 0.05, adaptive: bool = False) -> None:
        if rho < 0:
            raise ValueError(f'rho must be non-negative, got {rho}')
        super().__init__(params, dict(rho=rho, adaptive=adaptive))
        # the base optimizer receives (and completes) the same group dicts
        self.base_optimizer = OPTIMIZERS.build(
            dict(base_optimizer, params=self.param_groups))
        self.param_groups = self.base_optimizer.param_groups
        self.defaults.update(self.base_optimizer.defaults)
        self.perturbed = False

    @torch.no_grad()
    def _grad_norm(self) -> torch.Tensor:
        norms = [((p.abs() if group['adaptive'] else 1.0) * p.grad).norm()
                 for group in self.param_groups for p in group['params']
                 if p.grad is not None]
        if not norms:
            return torch.zeros(())
        return torch.stack(norms).norm()

    @torch.no_grad()
    def first_step(self, zero_grad: bool = False) -> None:
        """Move to the worst-case neighbour ``w + e(w)``."""
        if self.perturbed:
            raise RuntimeError('SAM.first_step called twice without a '
                               'second_step/unperturb in between')
        grad_norm = self._grad_norm()
        for group in self.param_groups:
            scale = group['rho'] / (grad_norm + GRAD_NORM_EPS)
            for p in group['params']:
                if p.grad is None:
                    continue
                self.state[p]['unperturbed'] = p.detach().clone()
                shift = p.grad * scale.to(p)
                p.add_(p.square() * shift if group['adaptive'] else shift)
        self.perturbed = True
        if zero_grad:
            self.zero_grad()

    @torch.no_grad()
    def unperturb(self) -> None:
        """Restore the weights saved by :meth:`first_step` (no update)."""
        for group in self.param_groups:
            for p in group['params']:
                saved = self.state[p].pop('unperturbed', None)
                if saved is not None:
                    p.copy_(saved)
        self.perturbed = False

    @torch.no_grad()
    def second_step(self, zero_grad: bool = False) -> None:
        """Restore ``w`` and step the base optimizer with the current grads
        (those computed at ``w + e(w)``)."""
        self.unperturb()
        self.base_optimizer.step()
        if zero_grad:
            self.zero_grad()

    def step(self, closure: Optional[Callable] = None) -> None:
        """Second step if perturbed, else a plain base step.

        With a ``closure`` (which must recompute the loss and call
        ``backward``) the whole SAM update runs here, after the caller's
        first backward.
        """
        if closure is not None:
            self.first_step(zero_grad=True)
            with torch.enable_grad():
                closure()
        self.second_step()

    def state_dict(self) -> dict:
        """The base optimizer's state (SAM keeps none between updates)."""
        return self.base_optimizer.state_dict()

    def load_state_dict(self, state_dict: dict) -> None:
        self.unperturb()
        self.base_optimizer.load_state_dict(state_dict)
        # torch rebuilds the group dicts on load: share them again
        self.param_groups = self.base_optimizer.param_groups
