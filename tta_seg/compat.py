"""The one place where tta_seg adapts to the installed OpenMMLab stack.

``mmcv-lite`` ships mmcv without its compiled extension ``mmcv._ext``. mmseg
imports a few compiled ops (``point_sample``, ``CrissCrossAttention``,
``PSAMask``, ``sigmoid_focal_loss``) at module import time, so
``import mmseg.models`` fails with mmcv-lite even though the models tta_seg
uses (SegFormer, DeepLabV3+, FCN, PSPNet on ResNet/MiT) call none of them.

:func:`install_mmcv_ext_stub` registers a stand-in ``mmcv._ext`` module when
the real one is missing. Importing works; *calling* any compiled op raises
:class:`MissingCompiledOpError` naming the op and how to get it (install the
full ``mmcv`` build). With a full mmcv the real extension is used untouched.

:func:`cache_external_config_index` makes ``mmseg::`` config bases cheap:
mmengine re-reads every ``metafile.yml`` of mmseg's model index for each
such base (about 50 YAML files, 0.3 s a base); the files are static, so
each is read once per process. Parsing a method config drops from about 0.4 s
to a few hundredths, which every run, sweep check and test feels.

This module is imported by ``tta_seg/__init__.py`` before anything imports
mmseg, so every entry point (tools, tests, ``custom_imports``) gets it.
"""
import copy
import functools
import importlib
import importlib.machinery
import importlib.util
import sys
import types

__all__ = ['MissingCompiledOpError', 'install_mmcv_ext_stub', 'has_mmcv_ops',
           'cache_external_config_index']


class MissingCompiledOpError(RuntimeError):
    """A compiled mmcv op was called but only mmcv-lite is installed."""


def _missing_op(name: str):

    def op(*args, **kwargs):
        raise MissingCompiledOpError(
            f'mmcv compiled op "{name}" was called, but the installed mmcv '
            'has no compiled extension (mmcv-lite). tta_seg models do not '
            'need it; for a model that does, install the full build: '
            '`pip uninstall mmcv-lite && pip install "mmcv>=2.0.0,<2.2.0"` '
            '(compiles for ~15 min without a prebuilt wheel).')

    op.__name__ = name
    return op


class _ExtStub(types.ModuleType):
    """Module whose every attribute is an op that raises when called."""

    def __getattr__(self, name: str):
        if name.startswith('__'):
            raise AttributeError(name)
        return _missing_op(name)


def has_mmcv_ops() -> bool:
    """True when the real compiled ``mmcv._ext`` is importable."""
    mod = sys.modules.get('mmcv._ext')
    if isinstance(mod, _ExtStub):
        return False
    return importlib.util.find_spec('mmcv._ext') is not None


def install_mmcv_ext_stub() -> bool:
    """Register the stand-in ``mmcv._ext`` if the real one is missing.

    Returns:
        bool: True if the stub was installed (mmcv-lite), False otherwise.
    """
    if 'mmcv._ext' in sys.modules:
        return isinstance(sys.modules['mmcv._ext'], _ExtStub)
    if importlib.util.find_spec('mmcv') is None:
        return False
    if importlib.util.find_spec('mmcv._ext') is not None:
        return False
    stub = _ExtStub('mmcv._ext', 'Stand-in installed by tta_seg.compat')
    # a spec, so importlib/pkgutil probes (e.g. env collection) see a module
    stub.__spec__ = importlib.machinery.ModuleSpec('mmcv._ext', None)
    sys.modules['mmcv._ext'] = stub
    mmcv = importlib.import_module('mmcv')
    mmcv._ext = stub
    return True


def cache_external_config_index() -> bool:
    """Read the model index of an external package (``mmseg::`` bases)
    once per process: mmengine's look-up loads every ``metafile.yml`` it
    lists (through ``mmengine.config.utils.load``) for each such base.

    Returns:
        bool: Whether the reads are (now) cached; False if this mmengine
        has no such look-up (nothing to do).
    """
    try:
        from mmengine.config import utils
    except ImportError:
        return False
    original = getattr(utils, 'load', None)
    if original is None or not hasattr(utils, '_get_cfg_metainfo'):
        return False
    if getattr(original, '_tta_seg_cached', False):
        return True
    cache = {}

    @functools.wraps(original)
    def load(file, *args, **kwargs):
        key = file if isinstance(file, str) and not args and not kwargs \
            and '.mim' in file and file.endswith(('.yml', '.yaml')) else None
        if key is None:
            return original(file, *args, **kwargs)
        if key not in cache:
            cache[key] = original(file)
        return copy.deepcopy(cache[key])

    load._tta_seg_cached = True
    utils.load = load
    return True
