from .hooks import *  # noqa: F401,F403
from .loops import ContinualTestLoop
from .optimizers import SAM

__all__ = ['ContinualTestLoop', 'SAM']
