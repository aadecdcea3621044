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

This module is imported by ``tta_seg/__init__.py`` before anything imports
mmseg, so every entry point (tools, tests, ``custom_imports``) gets it.
"""
import importlib
import importlib.machinery
import importlib.util
import sys
import types

__all__ = ['MissingCompiledOpError', 'install_mmcv_ext_stub', 'has_mmcv_ops']


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
