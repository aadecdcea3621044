"""BaseAdapter: the contract every test-time adaptation method implements.

An adapter is an mmengine ``BaseModel`` that owns a source segmentor (any
mmseg ``BaseSegmentor``) and does all of its work in :meth:`test_step`, in
the spirit of mmengine's ``BaseTTAModel``. Call graph of one batch::

    test_step(data)
     ├─ strip_labels(data_samples)        label- and domain-blind by design
     ├─ segmentor.data_preprocessor(...)
     ├─ forward_and_adapt(inputs, metas)  -> logits (N, C, H, W)
     │   default: for each of `steps`:
     │     ├─ adapt_loss(inputs, metas)   -> (logits, {'loss_x': ...})
     │     └─ update(losses)              skip non-finite, optimizer step,
     │         └─ after_update()          e.g. EMA teacher, restoration
     └─ segmentor.postprocess_result(logits, samples)

Override points: :meth:`configure_model` (layer swaps, ``requires_grad``),
:meth:`set_modes` (module train/eval flags; everything is eval by default
and re-applied whenever mmengine calls ``.eval()``/``.train()``),
:meth:`adapt_loss`, :meth:`apply_gradients` (between backward and step),
:meth:`after_update`, :meth:`forward_and_adapt` (whole,
e.g. for backward-free methods) and :meth:`predict_logits` (prediction
without adaptation, used for forgetting checks).

State: every piece of adaptation state must be registered (parameters,
buffers, submodules) so that ``state_dict``, ``.to()``, checkpoints and
:meth:`reset` see it. :meth:`prepare` runs lazily on first use (after the
runner moved the model to its device): it configures the model, builds the
optimizer and snapshots the source state; :meth:`reset` restores that
snapshot exactly (weights, buffers, optimizer state).
"""
import copy
from typing import Dict, List, Optional, Tuple, Union

import torch
from mmengine.config import ConfigDict
from mmengine.logging import print_log
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapper
from mmseg.structures import SegDataSample
from torch import nn

from tta_seg.registry import MODELS, OPTIM_WRAPPERS, OPTIMIZERS
from tta_seg.utils.checkpoint import load_source_weights

#: Metainfo keys an adapter may see: image geometry only. Paths (which name
#: the domain and the label file) never reach an adapter.
GEOMETRY_KEYS = ('ori_shape', 'img_shape', 'pad_shape', 'scale_factor',
                 'flip', 'flip_direction', 'padding_size', 'img_padding_size')

Metas = List[dict]
Losses = Dict[str, torch.Tensor]


def strip_labels(data_samples: Optional[List[SegDataSample]]
                 ) -> List[SegDataSample]:
    """Copy data samples keeping only geometry metainfo (no labels/paths)."""
    if data_samples is None:
        raise ValueError('adapters need data_samples with image metainfo')
    return [
        SegDataSample(metainfo={k: s.metainfo[k] for k in GEOMETRY_KEYS
                                if k in s.metainfo}) for s in data_samples
    ]


#: What every adapter calls on its segmentor: mmseg's ``BaseSegmentor``
#: API plus ``inference`` (logits of a batch, as ``EncoderDecoder`` has).
SEGMENTOR_API = ('data_preprocessor', 'inference', 'postprocess_result')


def check_segmentor_api(segmentor: nn.Module, adapter: str) -> None:
    """Refuse, when the adapter is built, a segmentor it cannot drive."""
    missing = [name for name in SEGMENTOR_API
               if not callable(getattr(segmentor, name, None))]
    if missing:
        raise TypeError(
            f'{adapter} needs a segmentor with {", ".join(missing)}: '
            f'{type(segmentor).__name__} lacks it. Adapters call '
            '`inference(inputs, batch_img_metas)` -> logits (N, C, H, W) '
            "as mmseg's EncoderDecoder defines it, and mmseg's "
            '`data_preprocessor` and `postprocess_result`.')


class BaseAdapter(BaseModel):
    """Base class of test-time adaptation methods.

    Args:
        segmentor (dict | nn.Module): Source segmentor config or instance.
        source_checkpoint (str, optional): Source weights (plain state dict
            or mmseg checkpoint), loaded before any copy (teacher, anchor).
        allow_unsafe_checkpoint (bool): Permit full unpickling of the
            checkpoint (only for trusted files).
        optim_wrapper (dict, optional): mmengine optim-wrapper config with an
            ``optimizer`` entry; built over the parameters left trainable by
            :meth:`configure_model`. None for backward-free methods.
        steps (int): Optimisation steps per test batch.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self,
                 segmentor: Union[dict, nn.Module],
                 source_checkpoint: Optional[str] = None,
                 allow_unsafe_checkpoint: bool = False,
                 optim_wrapper: Optional[dict] = None,
                 steps: int = 1,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        # ConfigDict: mmseg reads nested configs by attribute (test_cfg.mode)
        self.segmentor = MODELS.build(ConfigDict(segmentor)) if isinstance(
            segmentor, dict) else segmentor
        check_segmentor_api(self.segmentor, type(self).__name__)
        if source_checkpoint:
            load_source_weights(self.segmentor, source_checkpoint,
                                allow_unsafe_checkpoint)
        if steps < 1:
            raise ValueError(f'steps must be >= 1, got {steps}')
        self.steps = steps
        self.optim_wrapper_cfg = copy.deepcopy(optim_wrapper)
        self.optim_wrapper: Optional[OptimWrapper] = None
        #: Diagnostic event counts (name -> count), not adaptation state:
        #: they survive reset(). The test loop stores each record's increase
        #: (``skipped_updates`` always, others in adapted records) and
        #: restores them on --resume. Subclasses add names in ``__init__``
        #: and bump them with :meth:`count`.
        self.counters: Dict[str, int] = {'skipped_updates': 0}
        self.last_losses: Dict[str, torch.Tensor] = {}
        self._prepared = False
        self._source_state: Dict[str, torch.Tensor] = {}
        self._source_optim_state: Optional[dict] = None

    def count(self, name: str, increment: int = 1) -> int:
        """Add ``increment`` to counter ``name``; return its new value."""
        self.counters[name] = self.counters.get(name, 0) + increment
        return self.counters[name]

    @property
    def skipped_updates(self) -> int:
        """Updates skipped because the loss was not finite."""
        return self.counters['skipped_updates']

    # ------------------------------------------------------------ set-up --
    def configure_model(self) -> None:
        """Swap layers and set ``requires_grad`` (runs once, in prepare)."""
        self.segmentor.requires_grad_(False)

    def set_modes(self) -> None:
        """Set module train/eval flags; everything eval by default."""

    def train(self, mode: bool = True) -> 'BaseAdapter':
        """TTA models are in eval mode unless :meth:`set_modes` says so."""
        super().train(False)
        if self._prepared:
            self.set_modes()
        return self

    def trainable_params(self) -> List[nn.Parameter]:
        """Parameters the optimizer updates."""
        return [p for p in self.parameters() if p.requires_grad]

    def build_optim_wrapper(self) -> Optional[OptimWrapper]:
        """Build the optim wrapper over :meth:`trainable_params`."""
        if self.optim_wrapper_cfg is None:
            return None
        cfg = copy.deepcopy(self.optim_wrapper_cfg)
        params = self.trainable_params()
        if not params:
            raise RuntimeError(f'{type(self).__name__} has an optimizer but '
                               'no trainable parameter')
        optimizer = OPTIMIZERS.build(dict(cfg.pop('optimizer'), params=params))
        cfg.setdefault('type', 'OptimWrapper')
        return OPTIM_WRAPPERS.build(dict(cfg, optimizer=optimizer))

    def prepare(self) -> None:
        """Configure, build the optimizer and snapshot the source state.

        Idempotent; called on first use so it sees the final device.
        """
        if self._prepared:
            return
        self.configure_model()
        self.optim_wrapper = self.build_optim_wrapper()
        self._prepared = True
        self.train()
        # kept on the CPU: reset() copies across devices, and accelerator
        # memory is left to adaptation
        self._source_state = {
            k: v.detach().to('cpu', copy=True)
            for k, v in self.state_dict().items()
        }
        if self.optim_wrapper is not None:
            self._source_optim_state = copy.deepcopy(
                self.optim_wrapper.optimizer.state_dict())

    def reset(self) -> None:
        """Return exactly to the source state (weights, buffers, optimizer)."""
        self.prepare()
        self.load_state_dict(self._source_state, strict=True)
        if self.optim_wrapper is not None:
            self.optim_wrapper.optimizer.load_state_dict(
                copy.deepcopy(self._source_optim_state))

    # ------------------------------------------------------------ steps --
    def test_step(self, data: dict) -> List[SegDataSample]:
        """Adapt on one unlabelled batch and return its predictions."""
        self.prepare()
        samples = strip_labels(data.get('data_samples'))
        data = self.segmentor.data_preprocessor(
            dict(inputs=data['inputs'], data_samples=samples), False)
        inputs, samples = data['inputs'], data['data_samples']
        logits = self.forward_and_adapt(inputs, [s.metainfo for s in samples])
        return self.segmentor.postprocess_result(logits.detach(), samples)

    def predict_logits(self, inputs: torch.Tensor,
                       metas: Metas) -> torch.Tensor:
        """Prediction of the current model, without adapting."""
        with torch.no_grad():
            return self.segmentor.inference(inputs, metas)

    def forward_logits(self, inputs: torch.Tensor,
                       metas: Metas) -> torch.Tensor:
        """One forward of the model the adapter reports, without the extra
        test-time work some methods predict with (CoTTA's 14 views, ViDA's
        uncertainty views). What a frame gets under a time budget while the
        adapter is busy (Alfarra et al.: "the most recent adapted model").
        The same as :meth:`predict_logits` unless a method overrides it."""
        return self.predict_logits(inputs, metas)

    def predict_step(self, data: dict,
                     plain: bool = False) -> List[SegDataSample]:
        """Like :meth:`test_step` but never adapts (forgetting checks);
        ``plain`` predicts with :meth:`forward_logits` instead of
        :meth:`predict_logits`."""
        self.prepare()
        samples = strip_labels(data.get('data_samples'))
        data = self.segmentor.data_preprocessor(
            dict(inputs=data['inputs'], data_samples=samples), False)
        predict = self.forward_logits if plain else self.predict_logits
        logits = predict(
            data['inputs'], [s.metainfo for s in data['data_samples']])
        return self.segmentor.postprocess_result(logits, data['data_samples'])

    def forward_and_adapt(self, inputs: torch.Tensor,
                          metas: Metas) -> torch.Tensor:
        """Adapt for ``steps`` steps; return the logits of the last forward
        (computed before its update, as in TENT)."""
        with torch.enable_grad():
            for _ in range(self.steps):
                logits, losses = self.adapt_loss(inputs, metas)
                self.update(losses)
        return logits

    def adapt_loss(self, inputs: torch.Tensor,
                   metas: Metas) -> Tuple[torch.Tensor, Losses]:
        """Return ``(logits, losses)``; losses keys contain ``'loss'``."""
        raise NotImplementedError(
            f'{type(self).__name__} must implement adapt_loss or override '
            'forward_and_adapt')

    def update(self, losses: Losses) -> bool:
        """One optimizer step on the summed losses; skipped if not finite.

        Returns:
            bool: Whether the step was taken.
        """
        loss = sum(v for k, v in losses.items() if 'loss' in k)
        # observed by LiveTrackingHook (detached: no sync unless it reads)
        self.last_losses = {k: v.detach() for k, v in losses.items()
                            if 'loss' in k}
        if not torch.isfinite(loss):
            skipped = self.count('skipped_updates')
            self.optim_wrapper.zero_grad()
            print_log(f'non-finite loss ({loss.item()}): update skipped '
                      f'({skipped} so far)', logger='current',
                      level=30)
            return False
        self.apply_gradients(loss)
        self.after_update()
        return True

    def apply_gradients(self, loss: torch.Tensor) -> None:
        """Backward and optimizer step of a finite loss (override to act
        between the two, e.g. on the gradients)."""
        self.optim_wrapper.update_params(loss)

    def after_update(self) -> None:
        """Runs after every optimizer step (EMA teacher, restoration...)."""

    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        """Plain forward of the segmentor (used by tools, not the loop)."""
        return self.segmentor(inputs, data_samples, mode=mode)
