from .hooks import *  # noqa: F401,F403
from .loops import ContinualTestLoop

__all__ = ['ContinualTestLoop']
