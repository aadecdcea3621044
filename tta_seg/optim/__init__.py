"""Optimizers usable by layers and adapters (no engine dependency)."""
from .sam import SAM

__all__ = ['SAM']
