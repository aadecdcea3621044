from .base import BaseAdapter, strip_labels
from .bn_adapt import BNAdapt
from .gprebn import GpreBN
from .sar import SAR
from .source import Source
from .tent import TENT

__all__ = [
    'BaseAdapter', 'strip_labels', 'Source', 'BNAdapt', 'TENT', 'SAR',
    'GpreBN'
]
