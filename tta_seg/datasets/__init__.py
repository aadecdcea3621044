"""Datasets and loading transforms: ACDC, input checks, the embedded
synthetic Cityscapes -> ACDC benchmark. Imported lazily by the
``DATASETS``/``TRANSFORMS`` registries (``locations=['tta_seg.datasets']``).
"""
from .acdc import ACDCDataset
from .checks import LoadCheckedAnnotations, LoadCheckedImage, check_data_root
from . import synthetic

__all__ = [
    'ACDCDataset', 'LoadCheckedAnnotations', 'LoadCheckedImage',
    'check_data_root', 'synthetic'
]
