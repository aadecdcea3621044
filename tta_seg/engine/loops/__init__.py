from .continual_test_loop import ContinualTestLoop

__all__ = ['ContinualTestLoop']
