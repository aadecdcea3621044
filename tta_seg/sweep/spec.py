"""What a sweep runs: configs × stream variants × a grid of overrides ×
seeds, expanded into trials (one continual run each).

A sweep is a Python config like every other (``configs/sweeps/``)::

    sweep = dict(
        work_root='work_dirs/sweeps/embedded',
        configs=dict(                       # key -> config, or dict(config=,
            r18_source='configs/source/...',  #   grid=, cfg_options=)
            r18_tent=dict(config='configs/tent/...',
                          grid={'adapter.optim_wrapper.optimizer.lr':
                                [1e-5, 1e-4]})),
        streams=dict(                       # variant -> overrides; 'stream'
            fixed={},                       #   takes test_cfg from a file
            random={'test_cfg.order': 'random'},
            val=dict(stream='configs/_base_/streams/synthetic_3rounds_val.py')),
        seeds=[0, 1, 2],
        grid={},                            # applied to every config
        cfg_options={},                     # likewise, not swept
        selection=dict(val='val', test='random',  # optional; faithful:
                       faithful=True))    # also the config's own values

Every override goes through the strict ``--cfg-options`` check of
:func:`tta_seg.apis.config.load_config`: :func:`check_trials` resolves
every trial before the sweep starts, so a typo shows in seconds, and a
broken trial fails alone while the others run.
"""
import itertools
import os.path as osp
import re
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional

from mmengine.config import Config

#: Stream variants by name (``tools/sweep.py --streams``, where a sweep
#: config's own variant of the same name wins): overrides of the config's
#: ``test_cfg`` (see ``tta_seg/engine/loops/stream.py``).
STREAM_PRESETS = {
    'fixed': {},
    'random': {'test_cfg.order': 'random'},
    'mixed': {'test_cfg.mixed': True},
    'budget': {'test_cfg.time_budget': dict(relative_cost='measure',
                                            skip_prediction='forward')},
}
#: Work-dir names keep these characters; others become '_'.
_SAFE = re.compile(r'[^A-Za-z0-9._=+-]')


@dataclass
class Trial:
    """One continual run of a sweep.

    Attributes:
        name (str): Unique, used as the work dir name under the work root.
        config (str): Method config file.
        key (str): The config's key in the sweep.
        stream (str): Stream variant name.
        params (dict): The grid point (dotted key -> value).
        seed (int): ``randomness.seed``.
        cfg_options (dict): Every override of the run (common, stream,
            grid point), as ``--cfg-options`` would pass them.
        data_roots (list[str]): ``--data-root`` values.
        faithful (bool, optional): Whether the grid point equals the
            config file's own values, recorded when the sweep runs
            (:func:`~.tuned.is_faithful`), so that reports do not depend
            on the config files later.
    """
    name: str
    config: str
    key: str
    stream: str
    params: Dict[str, object]
    seed: int
    cfg_options: Dict[str, object] = field(default_factory=dict)
    data_roots: List[str] = field(default_factory=list)
    faithful: Optional[bool] = None

    @property
    def group(self) -> tuple:
        """Trials that differ only in their seed share a group."""
        return (self.key, self.stream, _params_text(self.params))

    def to_dict(self) -> dict:
        return asdict(self)


def _short(key: str, keys: List[str]) -> str:
    """The last part of a dotted key, unless two keys share it."""
    last = key.rsplit('.', 1)[-1]
    same = [k for k in keys if k.rsplit('.', 1)[-1] == last]
    return last if len(same) == 1 else key


def _params_text(params: Dict[str, object]) -> str:
    keys = sorted(params)
    return ','.join(f'{_short(k, keys)}={params[k]}' for k in keys)


def trial_name(key: str, stream: str, params: Dict[str, object],
               seed: int) -> str:
    parts = [key, stream] + ([_params_text(params)] if params else []) + \
        [f'seed{seed}']
    return _SAFE.sub('_', '-'.join(parts))


def parse_grid(items: List[str]) -> Dict[str, list]:
    """``['KEY=V1,V2', ...]`` -> ``{KEY: [V1, V2]}``, values typed as
    ``--cfg-options`` types them (int, float, bool, None, else str)."""
    from mmengine.config import DictAction
    grid = {}
    for item in items:
        key, sep, values = item.partition('=')
        if not sep or not key or not values:
            raise ValueError(f'--grid {item!r}: expected KEY=V1,V2,...')
        grid[key] = [DictAction._parse_int_float_bool(v)
                     for v in values.split(',')]
    return grid


def _grid_points(grid: Dict[str, list]) -> List[Dict[str, object]]:
    for key, values in grid.items():
        if not isinstance(values, (list, tuple)) or not values:
            raise ValueError(f'sweep grid {key!r}: expected a non-empty list '
                             f'of values, got {values!r}')
    keys = sorted(grid)
    return [dict(zip(keys, combo))
            for combo in itertools.product(*(grid[k] for k in keys))]


def stream_options(variant: dict) -> Dict[str, object]:
    """A stream variant's overrides; ``stream=FILE`` becomes a ``test_cfg``
    override with that file's ``test_cfg`` (its domains replace the
    config's)."""
    variant = dict(variant or {})
    path = variant.pop('stream', None)
    if path is not None:
        from tta_seg.apis.config import resolve_path
        resolved = resolve_path(path)
        if not osp.isfile(resolved):
            raise FileNotFoundError(f'sweep stream file not found: {path}')
        variant['test_cfg'] = Config.fromfile(resolved).test_cfg.to_dict()
    return variant


def _config_entries(configs) -> Dict[str, dict]:
    if isinstance(configs, (list, tuple)):
        configs = {osp.splitext(osp.basename(c))[0]: c for c in configs}
    if not configs:
        raise ValueError('a sweep needs at least one config')
    out = {}
    for key, entry in configs.items():
        entry = dict(config=entry) if isinstance(entry, str) else dict(entry)
        if 'config' not in entry:
            raise KeyError(f'sweep config {key!r}: give dict(config=FILE, '
                           f'...) or the file path, got {entry!r}')
        unknown = set(entry) - {'config', 'grid', 'cfg_options'}
        if unknown:
            raise KeyError(f'sweep config {key!r}: unknown entries '
                           f'{sorted(unknown)} (expected config, grid, '
                           'cfg_options)')
        # like the configs' own checkpoint paths: from the working
        # directory, else the repository, so a sweep runs from anywhere
        from tta_seg.apis.config import resolve_path
        entry['config'] = resolve_path(entry['config'])
        out[key] = entry
    return out


def expand(sweep: dict) -> List[Trial]:
    """The trials of a sweep spec (see the module docstring), in the order
    configs → streams → grid points → seeds."""
    known = {'work_root', 'configs', 'streams', 'seeds', 'grid',
             'cfg_options', 'selection', 'data_roots'}
    unknown = set(sweep) - known
    if unknown:
        raise KeyError(f'unknown sweep entries {sorted(unknown)}; expected '
                       f'some of {sorted(known)}')
    streams = {name: stream_options(v) for name, v in
               (sweep.get('streams') or {'default': {}}).items()}
    seeds = list(sweep.get('seeds') or [0])
    trials = []
    for key, entry in _config_entries(sweep.get('configs')).items():
        grid = dict(sweep.get('grid') or {}, **(entry.get('grid') or {}))
        common = dict(sweep.get('cfg_options') or {},
                      **(entry.get('cfg_options') or {}))
        for stream, stream_opts in streams.items():
            for params in _grid_points(grid):
                for seed in seeds:
                    opts = dict(common, **stream_opts, **params)
                    trials.append(Trial(
                        trial_name(key, stream, params, seed),
                        entry['config'], key, stream, params, int(seed),
                        opts, list(sweep.get('data_roots') or [])))
    names = [t.name for t in trials]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f'sweep trials share work dir names {dup}: make '
                         'the config keys or stream names distinct')
    return trials


def select_streams(names: List[str],
                   defined: Optional[dict] = None) -> Dict[str, dict]:
    """The stream variants ``names`` (``tools/sweep.py --streams``): each
    is one of the sweep config's own variants (``defined``) if it has one
    of that name, else a preset of :data:`STREAM_PRESETS`.

    Raises:
        KeyError: a name that is neither, with the names there are.
    """
    defined = dict(defined or {})
    out = {}
    for name in names:
        if name in defined:
            out[name] = defined[name]
        elif name in STREAM_PRESETS:
            out[name] = STREAM_PRESETS[name]
        else:
            raise KeyError(
                f'stream {name!r} is neither a stream of the sweep config '
                f'({", ".join(sorted(defined)) or "it defines none"}) nor a '
                f'preset ({", ".join(sorted(STREAM_PRESETS))})')
    return out


def load_sweep(path: str, overrides: Optional[dict] = None) -> dict:
    """The ``sweep`` dict of a sweep config file, with top-level entries
    replaced by ``overrides`` (the command line's)."""
    cfg = Config.fromfile(path)
    if 'sweep' not in cfg:
        raise KeyError(f'{path}: a sweep config defines `sweep = dict(...)`')
    sweep = cfg.sweep.to_dict()
    sweep.update({k: v for k, v in (overrides or {}).items()
                  if v is not None})
    return sweep


def check_trials(trials: List[Trial], work_root: str,
                 conflicts: Optional[Dict[str, str]] = None
                 ) -> Dict[str, str]:
    """Resolve every trial's config now (file, overrides, data roots).

    Args:
        trials (list[Trial]): The trials.
        work_root (str): The sweep's folder.
        conflicts (dict, optional): If given, filled with trial name ->
            why, for the trials whose work dir already holds the complete
            results of another run (:func:`~.trial.conflict_with`).

    Returns:
        dict: trial name -> error text, for the broken trials: they fail
        alone, at once, while the others run.
    """
    from tta_seg.apis.run import build_run_cfg
    from .trial import conflict_with
    errors = {}
    for trial in trials:
        work_dir = osp.join(work_root, trial.name)
        try:
            cfg = build_run_cfg(trial.config, work_dir, trial.cfg_options,
                                trial.seed,
                                data_roots=trial.data_roots or None)
        except Exception as exc:  # noqa: BLE001 (reported per trial)
            errors[trial.name] = f'{type(exc).__name__}: {exc}'
            continue
        if conflicts is not None:
            why = conflict_with(cfg, work_dir)
            if why:
                conflicts[trial.name] = why
    return errors
