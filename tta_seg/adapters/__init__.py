from .base import BaseAdapter, strip_labels
from .bn_adapt import BNAdapt
from .cotta import CoTTA
from .diga import DIGA
from .ecotta import EcoTTA
from .gprebn import GpreBN
from .hybrid_tta import HybridTTA
from .mean_teacher import MeanTeacherAdapter
from .sar import SAR
from .source import Source
from .svdp import SVDP
from .tent import TENT
from .vida import ViDA

__all__ = [
    'BaseAdapter', 'strip_labels', 'Source', 'BNAdapt', 'TENT', 'SAR',
    'GpreBN', 'DIGA', 'CoTTA', 'MeanTeacherAdapter',
    'EcoTTA', 'SVDP', 'ViDA', 'HybridTTA'
]
