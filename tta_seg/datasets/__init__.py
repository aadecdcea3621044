"""Datasets and loading transforms: ACDC, input checks, the embedded
synthetic Cityscapes -> ACDC benchmark and its weather rendered in the
pipeline at any severity (``SyntheticWeather``, severity schedules).
Imported lazily by the ``DATASETS``/``TRANSFORMS`` registries
(``locations=['tta_seg.datasets']``).

ImageNet-C / Cityscapes-C corruptions: the ``Corruption`` transform
(:mod:`.corruptions`; its library is imported when one is built).

The synthetic benchmark's generator (:mod:`.synthetic`, several thousand
lines registering nothing) is only imported when first used:
``tta_seg.datasets.synthetic`` or ``from tta_seg.datasets.synthetic
import ...``.
"""
import importlib

from .acdc import ACDCDataset
from .checks import LoadCheckedAnnotations, LoadCheckedImage, check_data_root
from .corruptions import CORRUPTIONS, Corruption
from .weather_transform import SyntheticWeather, severity_schedule

#: Submodules imported on first attribute access (PEP 562).
LAZY_SUBMODULES = ('synthetic', )

__all__ = [
    'ACDCDataset', 'LoadCheckedAnnotations', 'LoadCheckedImage',
    'SyntheticWeather', 'check_data_root', 'severity_schedule', 'synthetic',
    'CORRUPTIONS', 'Corruption'
]


def __getattr__(name: str):
    if name in LAZY_SUBMODULES:
        return importlib.import_module(f'{__name__}.{name}')
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
