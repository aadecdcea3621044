from .base import BaseAdapter, strip_labels
from .bn_adapt import BNAdapt
from .source import Source
from .tent import TENT

__all__ = ['BaseAdapter', 'strip_labels', 'Source', 'BNAdapt', 'TENT']
