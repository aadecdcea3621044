"""What defines a continual TTA run, so that ``--resume`` never mixes runs.

:func:`run_identity` reduces a resolved config to the parts that decide the
numbers a run reports: the adapter with its segmentor and hyper-parameters
(``model``), the stream (``test_cfg``: domains, datasets, rounds, reset,
source split), batching and sampling, the metric, the seed, the content
(SHA-256) of every checkpoint file the adapter loads, and the version and
parameters of the embedded benchmark (``synthetic_benchmark``: its weather
severity, counts, size and seed). Bookkeeping that does
not change results is left out (work dir, resume flag, progress bars,
observer hooks, worker counts, the unsafe-unpickling opt-in).

The identity and its :func:`fingerprint` are stored in ``resume_state.pth``
and ``results.json``; :func:`identity_diff` names what differs.
"""
import hashlib
import inspect
import json
import os.path as osp
from typing import Dict, List, Optional

from tta_seg.utils.io import file_sha256

#: Top-level config keys that define a run.
IDENTITY_KEYS = ('model', 'test_cfg', 'test_dataloader', 'test_evaluator',
                 'randomness')
#: Sub-keys of those that do not change results.
IGNORED = {
    'test_cfg': ('resume', 'progress'),
    'test_dataloader': ('num_workers', 'persistent_workers', 'pin_memory',
                        'prefetch_factor'),
    'model': ('allow_unsafe_checkpoint', ),
}


def _plain(obj):
    """Nested dicts/lists of JSON types (tuples become lists, others str)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, float) and obj != obj:  # NaN never equals itself
        return 'nan'
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if hasattr(obj, '__qualname__'):  # classes, functions: no addresses
        return f'{getattr(obj, "__module__", "")}.{obj.__qualname__}'
    return str(obj)


def run_identity(cfg) -> dict:
    """The parts of a resolved config that define a run's results.

    Args:
        cfg (Config | dict): The config the Runner was built from
            (``model`` = the composed adapter).

    Returns:
        dict: JSON-serialisable; checkpoint paths of the adapter get a
        ``<key>_sha256`` beside them.
    """
    out = {}
    for key in IDENTITY_KEYS:
        value = _plain(cfg.get(key))
        if isinstance(value, dict):
            for ignored in IGNORED.get(key, ()):
                value.pop(ignored, None)
        out[key] = value
    model = out.get('model') or {}
    for key, value in list(model.items()):
        if key.endswith('checkpoint') and isinstance(value, str) and \
                osp.isfile(value):
            model[f'{key}_sha256'] = file_sha256(value)
    benchmark = synthetic_benchmark_identity(cfg.get('synthetic_benchmark'))
    if benchmark is not None:
        out['synthetic_benchmark'] = benchmark
    return out


def synthetic_benchmark_identity(spec) -> Optional[dict]:
    """Version and parameters of the embedded benchmark a config asks for
    (defaults filled in, e.g. the weather severity), without its root:
    the images a run sees change with them, not with the config text, so
    a benchmark generated with other parameters makes another run. Taken
    from the request, not the folder (the run generates the folder to
    match, and a sweep fingerprints trials before any data exist)."""
    if not spec:
        return None
    from tta_seg.datasets.synthetic.generate import (benchmark_params,
                                                     benchmark_record)
    # only what decides the images (not root, workers or progress)
    accepted = inspect.signature(benchmark_params).parameters
    params = {k: v for k, v in dict(spec).items() if k in accepted}
    return _plain(benchmark_record(**params))


def fingerprint(identity: dict) -> str:
    """Short stable hash of an identity."""
    text = json.dumps(identity, sort_keys=True, separators=(',', ':'))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _flatten(obj, prefix: str = '') -> Dict[str, object]:
    if isinstance(obj, dict) and obj:
        out = {}
        for key, value in obj.items():
            out.update(_flatten(value, f'{prefix}.{key}' if prefix else key))
        return out
    if isinstance(obj, list) and obj:
        out = {}
        for idx, value in enumerate(obj):
            out.update(_flatten(value, f'{prefix}.{idx}'))
        return out
    return {prefix: obj}


def identity_diff(old: dict, new: dict, limit: int = 8) -> List[str]:
    """``'key: old -> new'`` lines for the leaves that differ."""
    a, b = _flatten(old), _flatten(new)
    lines = [f'{k}: {a.get(k, "(absent)")!r} -> {b.get(k, "(absent)")!r}'
             for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    if len(lines) > limit:
        lines = lines[:limit] + [f'... and {len(lines) - limit} more']
    return lines
