"""Turning a tta_seg config into what mmengine's Runner builds.

A method config inherits an mmseg model config (``model`` = the source
segmentor) and adds ``adapter = dict(type='TENT', ...)``;
:func:`compose_model_cfg` nests the segmentor into the adapter, so users
keep mmseg's ``model.*`` keys for the network and ``adapter.*`` for the
method (both work with ``--cfg-options``).

Overrides are strict (:func:`check_overrides`): a key whose top-level name
the config does not have, or that names a variable the config file already
consumed while it was parsed (``acdc``, ``test_pipeline``...: changing it
afterwards would change nothing), is an error that suggests the key meant.

Data roots are named and resolvable (:func:`resolve_data_roots`): a stream
config declares ``data_roots = dict(name=path)`` and builds every dataset's
``data_root`` from them; ``--data-root name=PATH`` (or
``--cfg-options data_roots.name=PATH``) moves every dataset under that
root at once. Relative roots are taken against the data home
(:func:`data_home`: ``$TTA_SEG_DATA``, else ``<repository>/data``), so a
command finds the same data from whatever directory it runs.
"""
import difflib
import inspect
import os
import os.path as osp
from typing import Dict, Iterable, List, Optional

from mmengine.config import Config

from tta_seg.utils.paths import (ASSET_ROOT, DATA_ENV, REPO_ROOT, data_home,
                                 resolve_path)

__all__ = ['ASSET_ROOT', 'DATA_ENV', 'REPO_ROOT', 'data_home', 'resolve_path',
           'check_overrides', 'compose_model_cfg', 'load_config',
           'prepare_data', 'registered_adapters', 'check_adapter_type',
           'parse_data_roots', 'resolve_data_roots', 'live_keys']

#: Top-level keys that tta_seg itself reads after parsing (beside the keys
#: mmengine's Runner reads, taken from its signature).
TTA_SEG_KEYS = ('adapter', 'source_checkpoint', 'synthetic_benchmark',
                'data_roots', 'custom_imports', 'overrides')
#: Runner arguments that mmseg configs consume while they are parsed (the
#: top-level preprocessor is copied into ``model``, and composing drops it).
CONSUMED_RUNNER_KEYS = ('data_preprocessor', )
#: Config keys that hold a dataset root (rewritten by data-root overrides).
ROOT_KEYS = ('data_root', 'root')


def live_keys() -> set:
    """Top-level config keys read after the file is parsed."""
    from mmengine.runner import Runner
    params = set(inspect.signature(Runner.__init__).parameters)
    return (params - {'self', 'cfg', *CONSUMED_RUNNER_KEYS}) | \
        set(TTA_SEG_KEYS)


def _closest(word: str, candidates: Iterable[str]) -> Optional[str]:
    match = difflib.get_close_matches(word, sorted(set(candidates)), n=1,
                                      cutoff=0.6)
    return match[0] if match else None


def _walk(obj, prefix: str = ''):
    """Yield ``(dotted_key, value)`` for every node of nested dicts/lists."""
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) \
        if isinstance(obj, (list, tuple)) else ()
    for key, value in items:
        path = f'{prefix}.{key}' if prefix else str(key)
        yield path, value
        yield from _walk(value, path)


def _copies_of(cfg: Config, name: str, limit: int = 3) -> List[str]:
    """Keys of the live config where variable ``name``'s value was put."""
    value, found, keys = cfg[name], [], live_keys()
    live = {k: cfg[k] for k in cfg if k in keys}
    for path, node in _walk(live):
        if isinstance(value, dict) and isinstance(node, dict) and value:
            hit = all(k in node and node[k] == v for k, v in value.items())
        elif isinstance(value, str) and isinstance(node, str) and value:
            hit = node == value or node.startswith(value.rstrip('/') + '/')
        else:
            hit = not isinstance(value, (dict, list)) and node == value \
                and isinstance(node, type(value))
        if hit:
            found.append(path)
    return found[:limit]


def check_overrides(cfg: Config, options: Dict[str, object]) -> None:
    """Refuse ``--cfg-options`` keys that would silently change nothing.

    Keys inside a component's dict (``adapter.foo``) stay checked by the
    component's constructor; this checks the top-level name.

    Raises:
        KeyError: Naming the key, why it does nothing and what to use.
    """
    live = live_keys()
    for key in options:
        top = key.split('.')[0]
        if top not in cfg and top not in live:
            near = _closest(top, list(cfg.keys()) + sorted(live))
            hint = f'; did you mean {key.replace(top, near, 1)!r}?' \
                if near else ''
            raise KeyError(f'--cfg-options {key}: the config has no '
                           f'{top!r}{hint}{_roots_advice(cfg, top)}')
        if top in cfg and top not in live:
            raise KeyError(_consumed_message(cfg, key, top))
        if top == 'data_roots':
            _check_root_override(cfg, key)


def _check_root_override(cfg: Config, key: str) -> None:
    """``data_roots.NAME`` must name a root the config declares."""
    declared = sorted(cfg.get('data_roots') or {})
    name = key.split('.')[1] if '.' in key else None
    if name not in declared:
        raise KeyError(f'--cfg-options {key}: this config declares the data '
                       f'roots {declared or "(none)"}')


def _consumed_message(cfg: Config, key: str, top: str) -> str:
    text = (f'--cfg-options {key}: {top!r} is a variable of the config '
            'file, already used when the file was parsed, so changing it '
            'now would change nothing.')
    if _roots_advice(cfg, top):
        return text + _roots_advice(cfg, top)
    copies = _copies_of(cfg, top)
    if copies:
        rest = key[len(top):]
        text += ' Override where its value went, e.g. ' + ', '.join(
            f'{c}{rest}' for c in copies) + '.'
    return text


def _roots_advice(cfg: Config, top: str) -> str:
    """How to move data, for a key that looks like a data root."""
    roots = cfg.get('data_roots') or {}
    if 'root' not in top or top == 'data_roots' or not roots:
        return ''
    names = ' '.join(f'--data-root {n}=PATH' for n in roots)
    return (f' To move the data use {names} (or --cfg-options '
            f'data_roots.<name>=PATH, or ${DATA_ENV}).')


def parse_data_roots(items: Optional[List[str]],
                     declared: Dict[str, str]) -> Dict[str, str]:
    """``['name=PATH', ...]`` (or one bare PATH when the config declares a
    single root) -> ``{name: PATH}``."""
    out = {}
    for item in items or []:
        name, sep, path = item.partition('=')
        if not sep:
            if len(declared) != 1:
                raise ValueError(
                    f'--data-root {item}: this config has the data roots '
                    f'{sorted(declared) or "(none)"}; name one as '
                    'NAME=PATH')
            name, path = next(iter(declared)), item
        if name not in declared:
            raise KeyError(f'--data-root {item}: unknown root {name!r}; '
                           f'this config declares {sorted(declared)}')
        out[name] = path
    return out


def resolve_data_roots(cfg: Config, declared: Dict[str, str]) -> None:
    """Point every dataset root at the resolved ``cfg.data_roots``.

    ``declared`` holds the roots as the file wrote them; every ``data_root``
    / ``root`` string equal to or under a declared root is rewritten to the
    resolved (absolute) root. Relative roots are taken against
    :func:`data_home`.
    """
    roots = cfg.get('data_roots')
    if not roots:
        return
    resolved = {name: osp.join(data_home(), osp.expanduser(path))
                for name, path in roots.items()}
    resolved = {k: osp.normpath(v) for k, v in resolved.items()}
    for path, node in list(_walk({k: cfg[k] for k in cfg
                                  if k != 'data_roots'})):
        if not isinstance(node, dict):
            continue
        for key in ROOT_KEYS:
            value = node.get(key)
            if isinstance(value, str):
                node[key] = _rebase(value, declared, resolved)
    cfg.data_roots = resolved


def _rebase(value: str, declared: Dict[str, str],
            resolved: Dict[str, str]) -> str:
    for name, old in declared.items():
        old = old.rstrip('/')
        if value.rstrip('/') == old:
            return resolved[name]
        if value.startswith(old + '/'):
            return osp.join(resolved[name], value[len(old) + 1:])
    return value


def load_config(path: str, cfg_options: Optional[dict] = None,
                launcher: str = 'none',
                work_dir: Optional[str] = None,
                data_roots: Optional[List[str]] = None) -> Config:
    """A config file with ``--cfg-options`` checked and merged, its data
    roots resolved, the launcher set and the work dir resolved
    (``--work-dir``, else the config's, else ``work_dirs/<config name>``),
    as the tools of mmseg do.

    Args:
        path (str): Config file.
        cfg_options (dict, optional): ``--cfg-options`` (checked by
            :func:`check_overrides`).
        launcher (str): Distributed launcher.
        work_dir (str, optional): Output folder.
        data_roots (list[str], optional): ``--data-root`` values
            (``NAME=PATH``, or a bare PATH for a single-root config).
    """
    if not osp.isfile(path):  # e.g. configs/... of an installed wheel
        path = resolve_path(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'config file not found: {path}')
    cfg = Config.fromfile(path)
    declared = dict(cfg.get('data_roots') or {})
    if cfg_options:
        check_overrides(cfg, cfg_options)
        cfg.merge_from_dict(cfg_options)
    if declared:
        cfg.data_roots.update(parse_data_roots(data_roots, declared))
    elif data_roots:
        raise ValueError(f'--data-root: {path} declares no data_roots')
    resolve_data_roots(cfg, declared)
    cfg.overrides = dict(cfg_options or {})
    cfg.launcher = launcher
    cfg.work_dir = work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(path))[0])
    return cfg


def registered_adapters() -> list:
    """Names of every registered adapter (incl. ``custom_imports`` ones)."""
    import tta_seg.adapters  # noqa: F401  (registers the built-in ones)
    from tta_seg.adapters import BaseAdapter
    from tta_seg.registry import MODELS
    return sorted(name for name, cls in MODELS.module_dict.items()
                  if isinstance(cls, type) and issubclass(cls, BaseAdapter))


def check_adapter_type(name: Optional[str]) -> None:
    """Raise a KeyError listing the registered adapters if unknown."""
    known = registered_adapters()
    if name not in known:
        raise KeyError(f'unknown adapter type {name!r}; registered adapters: '
                       f'{", ".join(known)} (add your own with '
                       '@MODELS.register_module() and custom_imports)')


def compose_model_cfg(cfg: Config, checkpoint: Optional[str] = None,
                      allow_unsafe: bool = False,
                      random_weights: bool = False) -> Config:
    """Set ``cfg.model`` to the adapter wrapping the source segmentor.

    Every adapter argument named ``*checkpoint`` (a path, e.g. EcoTTA's
    ``meta_checkpoint``) is resolved like ``source_checkpoint``, and
    dropped with ``random_weights``.

    Args:
        cfg (Config): A method config with ``model`` and ``adapter``;
            ``adapter`` is consumed (composing twice is an error).
        checkpoint (str, optional): Source weights; default: the config's
            ``source_checkpoint`` (shipped weights of the embedded models).
        allow_unsafe (bool): Permit full unpickling of the checkpoint.
        random_weights (bool): Keep the random initialisation (speed and
            memory benchmarks only).

    Returns:
        Config: ``cfg`` (modified in place).
    """
    if 'adapter' not in cfg:
        raise KeyError(f'{cfg.filename}: a method config defines '
                       "`adapter = dict(type=...)`")
    check_adapter_type(cfg.adapter.get('type'))
    ckpt = None if random_weights else resolve_path(
        checkpoint or cfg.get('source_checkpoint'))
    if ckpt is None and not random_weights:
        raise ValueError(
            'no source weights: pass --checkpoint (the config names the '
            'official mmseg model-zoo file to download) or set '
            'source_checkpoint in the config')
    model = dict(cfg.pop('adapter'), segmentor=cfg.model,
                 source_checkpoint=ckpt, allow_unsafe_checkpoint=allow_unsafe)
    for key, value in model.items():
        if key != 'source_checkpoint' and key.endswith('checkpoint') and \
                isinstance(value, str):
            model[key] = None if random_weights else resolve_path(value)
    cfg.model = model
    # mmseg configs also keep their preprocessor at top level, and the Runner
    # would hand it to the adapter: the segmentor already owns it
    cfg.pop('data_preprocessor', None)
    return cfg


def prepare_data(cfg: Config) -> None:
    """Generate the embedded synthetic benchmark if the config uses it."""
    spec = cfg.get('synthetic_benchmark')
    if not spec:
        return
    from mmengine.logging import print_log
    from tta_seg.datasets.synthetic import ensure_benchmark
    spec = dict(spec)
    root = osp.abspath(spec.pop('root'))
    print_log(f'embedded benchmark data: {root} (move it with --data-root '
              f'or ${DATA_ENV})', logger='current')
    os.makedirs(osp.dirname(root), exist_ok=True)
    ensure_benchmark(root, **spec)
