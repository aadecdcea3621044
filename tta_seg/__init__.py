"""tta_seg: continual test-time adaptation for semantic segmentation."""
from .compat import install_mmcv_ext_stub

install_mmcv_ext_stub()

__version__ = '0.1.0'
