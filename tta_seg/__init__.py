"""tta_seg: continual test-time adaptation for semantic segmentation."""
from .compat import cache_external_config_index, install_mmcv_ext_stub

install_mmcv_ext_stub()
cache_external_config_index()

__version__ = '0.1.0'
