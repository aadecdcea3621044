"""Turning a tta_seg config into what mmengine's Runner builds.

A method config inherits an mmseg model config (``model`` = the source
segmentor) and adds ``adapter = dict(type='TENT', ...)``;
:func:`compose_model_cfg` nests the segmentor into the adapter, so users
keep mmseg's ``model.*`` keys for the network and ``adapter.*`` for the
method (both work with ``--cfg-options``).
"""
import os
import os.path as osp
from typing import Optional

from mmengine.config import Config

#: Repository root (configs, shipped checkpoints) when run from a checkout.
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_config(path: str, cfg_options: Optional[dict] = None,
                launcher: str = 'none',
                work_dir: Optional[str] = None) -> Config:
    """A config file with ``--cfg-options`` merged, the launcher set and
    the work dir resolved (``--work-dir``, else the config's, else
    ``work_dirs/<config name>``), as the tools of mmseg do."""
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    cfg.launcher = launcher
    cfg.work_dir = work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(path))[0])
    return cfg


def resolve_path(path: Optional[str]) -> Optional[str]:
    """Resolve a relative path against the CWD, then the repository root."""
    if not path or osp.isabs(path) or osp.exists(path):
        return path
    candidate = osp.join(REPO_ROOT, path)
    return candidate if osp.exists(candidate) else path


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

    Args:
        cfg (Config): A method config with ``model`` and ``adapter``.
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
    if cfg.model.get('type') not in (None, 'EncoderDecoder') and \
            'segmentor' in cfg.model:
        return cfg  # already composed
    check_adapter_type(cfg.adapter.get('type'))
    ckpt = None if random_weights else resolve_path(
        checkpoint or cfg.get('source_checkpoint'))
    if ckpt is None and not random_weights:
        raise ValueError(
            'no source weights: pass --checkpoint (the config names the '
            'official mmseg model-zoo file to download) or set '
            'source_checkpoint in the config')
    model = dict(cfg.adapter, segmentor=cfg.model, source_checkpoint=ckpt,
                 allow_unsafe_checkpoint=allow_unsafe)
    if model.get('meta_checkpoint'):  # EcoTTA's warmed-up meta networks
        model['meta_checkpoint'] = None if random_weights else resolve_path(
            model['meta_checkpoint'])
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
    from tta_seg.datasets.synthetic import ensure_benchmark
    spec = dict(spec)
    root = spec.pop('root')
    os.makedirs(osp.dirname(osp.abspath(root)), exist_ok=True)
    ensure_benchmark(root, **spec)
