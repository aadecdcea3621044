"""Sweeps: configs × streams × overrides × seeds on Ray, and their
leaderboard (``tools/sweep.py``)."""
from .engine import run_sweep
from .spec import Trial, expand, load_sweep

__all__ = ['Trial', 'expand', 'load_sweep', 'run_sweep']
