"""Embedded synthetic Cityscapes -> ACDC benchmark.

Procedural street scenes with exact Cityscapes trainId labels and metric
depth (:func:`render_scene`), physically motivated adverse weather
(:func:`apply_weather`: fog, night, rain, snow) and a writer producing the
Cityscapes and ACDC folder layouts (:func:`generate_benchmark`,
:func:`ensure_benchmark`), so the whole continual TTA protocol runs on a
laptop without the real datasets. CLI: ``python tools/make_synthetic.py``.
"""
from .generate import (BENCHMARK_VERSION, acdc_paths, cityscapes_paths,
                       ensure_benchmark, generate_benchmark, is_complete)
from .preview import save_preview
from .scene import render_scene
from .weather import CONDITIONS, apply_weather, fog, night, rain, snow

__all__ = [
    'BENCHMARK_VERSION', 'CONDITIONS', 'acdc_paths', 'apply_weather',
    'cityscapes_paths', 'ensure_benchmark', 'fog', 'generate_benchmark',
    'is_complete', 'night', 'rain', 'render_scene', 'save_preview', 'snow'
]
