"""Optimizers reached through the engine.

SAM lives in :mod:`tta_seg.optim` (adapters may import it; they never
import the engine). It is imported here because ``OPTIMIZERS`` in
:mod:`tta_seg.registry` lists ``tta_seg.engine`` as its lazy location: a
config with ``type='SAM'`` registers it through this import.
"""
from tta_seg.optim import SAM

__all__ = ['SAM']
