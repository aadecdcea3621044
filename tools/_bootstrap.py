"""Lets ``python tools/X.py`` run from a checkout that is not installed
(``pip install -e .`` is the documented way; this keeps the scripts
working without it): puts the repository on the import path when
``tta_seg`` cannot be imported."""
import importlib.util
import os.path as osp
import sys

if importlib.util.find_spec('tta_seg') is None:
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
