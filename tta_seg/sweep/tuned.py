"""Faithful vs tuned: a sweep that chooses hyper-parameters on a
validation stream (:mod:`.selection`) compared with the values the
method configs ship (the *faithful* ones, from the papers), and the
chosen values stored as configs next to them.

- :func:`own_values`, :func:`faithful_trials`: the grid point of each
  config that equals the config file's own values. With
  ``selection=dict(..., faithful=True)`` the sweep also runs that point on
  the test stream, so faithful and tuned are measured by the same sweep.
- :func:`tuned_table` / :func:`write_tuned_table`: one row per config:
  the faithful and the chosen grid point, each with its validation and
  test mean mIoU, and the test difference (``tuned.{md,csv}``).
- :func:`write_tuned_configs` (``tta-seg sweep --write-tuned``): for each
  config whose validation grid finished, ``<method>-tuned_<rest>.py``
  beside it, inheriting the faithful config and overriding only the
  chosen values; its header lists every grid point's validation and test
  mean.
"""
import math
import os
import os.path as osp
from functools import lru_cache
from typing import Dict, List, Optional, Sequence

from mmengine.config import Config

from tta_seg.evaluation.tables import fmt, markdown_table, write_csv
from .leaderboard import (TIE, choose_on_validation, leaderboard,
                          load_trials, params_key)

#: Table caption.
CAPTION = ('mean mIoU (%) over the stream; faithful: the values the method '
           'config ships; tuned: the grid point with the best validation '
           'mean, the faithful one where within 0.05 of it (TIE); '
           '(n/m): validation points with a finished trial; Δ: tuned − '
           'faithful on the test stream')
_MISSING = object()


@lru_cache(maxsize=None)
def _config(path: str) -> Config:
    return Config.fromfile(path)


def own_values(config: str, keys: Sequence[str]) -> Dict[str, object]:
    """The values of the dotted ``keys`` in the config file ``config``
    (with its bases); a key the config does not set is left out."""
    out = {}
    for key in keys:
        node = _config(config)
        for part in key.split('.'):
            node = node.get(part, _MISSING) if hasattr(node, 'get') \
                else _MISSING
            if node is _MISSING:
                break
        if node is not _MISSING:
            out[key] = node
    return out


def _same(a, b) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and \
            not isinstance(a, bool) and not isinstance(b, bool):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=0.0)
    return a == b


def is_faithful(config: str, params: Dict[str, object]) -> bool:
    """Whether the grid point ``params`` equals the config's own values
    (every swept key set there, and equal; floats to 1e-9 relative)."""
    if not params:
        return False
    own = own_values(config, list(params))
    return len(own) == len(params) and all(
        _same(params[k], own[k]) for k in params)


def faithful_trials(trials: list, stream: str) -> list:
    """The :class:`~tta_seg.sweep.spec.Trial` objects of ``stream`` whose
    grid point is their config's own: their ``faithful`` flag where the CLI
    set it, else :func:`is_faithful` on their config file."""
    def flag(t):
        return (t.faithful if t.faithful is not None
                else is_faithful(t.config, t.params))
    return [t for t in trials if t.stream == stream and t.params and flag(t)]


def faithful_points(trials: List[dict]) -> Dict[str, str]:
    """Config key -> the text (:func:`params_key`) of its faithful grid
    point, from the rows of ``sweep.json``: their ``faithful`` flag,
    recorded when the sweep ran, else (rows of older sweeps) their config
    file; a row with neither is skipped with a warning."""
    import warnings
    out, missing = {}, set()
    for t in trials:
        if not t.get('params') or t['key'] in out:
            continue
        flag, config = t.get('faithful'), t.get('config')
        if flag is None and config and osp.isfile(config):
            flag = is_faithful(config, t['params'])
        if flag is None:
            missing.add(t['key'])
        elif flag:
            out[t['key']] = params_key(t['params'])
    missing -= set(out)
    if missing:
        warnings.warn(f'sweep configs {sorted(missing)}: no faithful flag '
                      'recorded and the config file is not here; their '
                      'faithful point is unknown (no tie rule, no faithful '
                      'column)')
    return out


def tuned_table(trials: List[dict], val_stream: str,
                test_stream: str) -> List[List[str]]:
    """Header + one line per config of the sweep rows ``trials`` that has a
    grid: run; the faithful point, its validation and test mean and the
    source split after the test stream; the tuned point (``n/m``:
    validation points finished of the grid's), likewise; Δ test. ``-``
    where a trial has not finished; configs without a finished validation
    trial are left out."""
    rows = leaderboard(trials)
    stats = {(r['key'], r['stream'], r['params']): r['stats'] for r in rows}
    method = {r['key']: r['method'] for r in rows}
    faithful = faithful_points(trials)
    chosen = choose_on_validation(trials, val_stream, faithful=faithful)
    grid_size: Dict[str, set] = {}
    for t in trials:
        if t['stream'] == val_stream and t.get('params'):
            grid_size.setdefault(t['key'], set()).add(params_key(t['params']))

    def get(key, stream, point, column='mean'):
        return stats.get((key, stream, point), {}).get(
            column, (None, None))[0]

    out = [['run', 'faithful', 'val', 'test', 'source after',
            'tuned (val points)', 'val', 'test', 'source after', 'Δ test']]
    for key in grid_size:
        if key not in chosen:
            continue  # no validation trial finished yet
        pick = chosen[key]
        point, fpoint = pick.get('params'), faithful.get(key)
        f_test, t_test = (get(key, test_stream, fpoint),
                          get(key, test_stream, point))
        delta = None if f_test is None or t_test is None else t_test - f_test
        done = len(pick.get('candidates', {}))
        out.append([
            f"{method[key]} ({key})", short_point(fpoint),
            fmt(get(key, val_stream, fpoint)), fmt(f_test),
            fmt(get(key, test_stream, fpoint, 'source after')),
            f"{short_point(point)} ({done}/{len(grid_size[key])})",
            fmt(pick.get('score')), fmt(t_test),
            fmt(get(key, test_stream, point, 'source after')),
            '-' if delta is None else f'{delta:+.1f}'])
    return out


def short_point(point: Optional[str]) -> str:
    """A grid point's text with each key cut to its last part where that
    stays unique (``a.optimizer.lr=0.001`` -> ``lr=0.001``); ``-`` for
    None."""
    if not point:
        return '-'
    items = [item.partition('=') for item in point.split(',')]
    lasts = [k.rsplit('.', 1)[-1] for k, _, _ in items]
    return ','.join(f'{last if lasts.count(last) == 1 else k}={v}'
                    for (k, _, v), last in zip(items, lasts))


def write_tuned_table(work_root: str, val_stream: str, test_stream: str,
                      title: str) -> str:
    """Write ``tuned.{md,csv}`` (:func:`tuned_table`) into the work root;
    return the Markdown."""
    from tta_seg.utils.io import atomic_write_text
    grid = tuned_table(load_trials(work_root), val_stream, test_stream)
    text = markdown_table(grid, f'{title}: faithful vs tuned (chosen on '
                          f'{val_stream}, reported on {test_stream})',
                          CAPTION)
    atomic_write_text(osp.join(work_root, 'tuned.md'), text)
    write_csv(osp.join(work_root, 'tuned.csv'), grid)
    return text


def tuned_config_path(config: str) -> str:
    """``configs/tent/tent-original_r18_x.py`` ->
    ``configs/tent/tent-original-tuned_r18_x.py`` (the mmseg naming: the
    variant joins the method's part of the name)."""
    folder, name = osp.split(config)
    stem = osp.splitext(name)[0]
    method, sep, rest = stem.partition('_')
    return osp.join(folder, f'{method}-tuned{sep}{rest}.py')


def _nested(params: Dict[str, object]) -> Dict[str, object]:
    out: Dict[str, object] = {}
    for key, value in params.items():
        node = out
        *parents, last = key.split('.')
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return out


def _render(value, indent: int = 0) -> str:
    """``value`` as a Python config literal, dicts as ``dict(k=v)`` with
    one key per line below the top level."""
    if not isinstance(value, dict):
        return repr(value)
    pad = ' ' * (indent + 4)
    items = [f'{k}={_render(v, indent + 4)}' for k, v in value.items()]
    one_line = f"dict({', '.join(items)})"
    if len(one_line) + indent < 70:
        return one_line
    return 'dict(\n' + ',\n'.join(pad + i for i in items) + ')'


def tuned_config_text(config: str, params: Dict[str, object],
                      pick: dict, sweep: str, val_stream: str,
                      test: Optional[Dict[str, float]] = None,
                      test_stream: str = 'test',
                      base: Optional[str] = None) -> str:
    """The text of the tuned config of ``config`` at ``params``
    (``pick``: its :func:`choose_on_validation` entry, which names the
    faithful point; ``sweep``: the sweep config file; ``test``: grid point
    -> test mean, where measured; all for the header; ``base``: the
    ``_base_`` path, default the config beside it)."""
    lines = [f'# Tuned preset of {osp.basename(config)}:',
             f'# the values below were chosen on the {val_stream!r} stream '
             'by the sweep',
             f'# named at the end. Mean mIoU (%) per grid point, '
             f'{val_stream} / {test_stream}',
             '# (mean over seeds; - where not run):']
    test = test or {}
    faithful_point = pick.get('faithful')
    for point, score in pick['candidates'].items():
        faithful = point == faithful_point
        lines.append(f'#   {short_point(point)}: {fmt(score)} / '
                     f'{fmt(test.get(point))}'
                     f"{' (faithful)' if faithful else ''}"
                     f"{' <- chosen' if point == pick['params'] else ''}")
    if pick['params'] == faithful_point:
        lines.append('# The faithful values won (best, or within '
                     f'{TIE} of it): this preset equals')
        lines.append('# the faithful config.')
    else:
        lines.append("# Everything else is the faithful config's.")
    lines += [f'# Written by `tta-seg sweep {sweep} --write-tuned`.',
              f"_base_ = {base or './' + osp.basename(config)!r}"]
    for key, value in _nested(params).items():
        lines.append(f'{key} = {_render(value)}')
    return '\n'.join(lines) + '\n'


def write_tuned_configs(work_root: str, val_stream: str, sweep: str,
                        test_stream: str = 'test',
                        expected: Optional[Dict[str, set]] = None,
                        out_dir: Optional[str] = None
                        ) -> Dict[str, Optional[str]]:
    """For each config of the sweep at ``work_root`` whose validation grid
    finished completely, write its tuned config beside it
    (:func:`tuned_config_path`), its header listing the validation (and,
    where run, ``test_stream``) mean of every grid point.

    Args:
        expected (dict, optional): Config key -> the names of all its
            validation trials (the whole sweep, not a ``--only`` part);
            without it, the rows in ``sweep.json``.
        out_dir (str, optional): Write into ``out_dir/<method folder>/``
            with an absolute ``_base_`` instead of beside the config (for
            an installed package, whose configs are not the user's).

    Returns:
        dict: config key -> the path written, or None where the
        validation grid has not finished (nothing written for it).
    """
    from tta_seg.utils.io import atomic_write_text
    trials = load_trials(work_root)
    chosen = choose_on_validation(trials, val_stream)
    test: Dict[str, Dict[str, float]] = {}
    for row in leaderboard([t for t in trials if t['stream'] == test_stream]):
        test.setdefault(row['key'], {})[row['params']] = row['stats'].get(
            'mean', (None, None))[0]
    finished = {t['name'] for t in trials if t['results']}
    out: Dict[str, Optional[str]] = {}
    for key in dict.fromkeys(t['key'] for t in trials
                             if t['stream'] == val_stream and t['params']):
        mine = [t for t in trials
                if t['key'] == key and t['stream'] == val_stream]
        names = (expected or {}).get(key) or {t['name'] for t in mine}
        pick = chosen.get(key)
        if not pick or 'params' not in pick or not names <= finished:
            out[key] = None
            continue
        config, params = next((t['config'], t['params']) for t in mine
                              if params_key(t['params']) == pick['params'])
        path, base = tuned_config_path(config), None
        if out_dir:
            path = osp.join(out_dir, osp.basename(osp.dirname(config)),
                            osp.basename(path))
            base = osp.abspath(config)
            os.makedirs(osp.dirname(path), exist_ok=True)
        atomic_write_text(path, tuned_config_text(
            config, params, pick, sweep, val_stream, test.get(key),
            test_stream, base))
        out[key] = path
    return out
