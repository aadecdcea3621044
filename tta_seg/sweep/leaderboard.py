"""The leaderboard of a sweep: trials grouped by (config, stream, grid
point), mean ± standard deviation over their seeds (and so over the
domain orders a random-order stream draws from them).

Per trial: each domain's mIoU averaged over the rounds, the mean over all
records, the source split after the last round (forgetting check), the
seconds per image (the records' ``seconds`` over their ``num_images``:
adaptation plus evaluation, as the run timed them) and the trial's peak
memory (resident set, and CUDA peak where measured). Per group: the mean
and the sample standard deviation (n − 1) of each over the group's seeds;
no ± for a single seed.

Hyper-parameters are chosen on a validation stream
(:func:`choose_on_validation`: only that stream's trials are read) and
reported on the test stream (:func:`selected_rows`).
"""
import json
import math
import os.path as osp
from typing import Dict, List, Optional, Tuple

from tta_seg.evaluation.results import summarise_run
from tta_seg.evaluation.tables import (markdown_table, mean_of, new_figure,
                                       save_figure, write_csv)
from .engine import SWEEP_FILE
from .trial import read_results

#: What the leaderboard's numbers are.
CAPTION = ('mIoU (%), mean ± sample std over seeds; domain columns average '
           'the rounds; s/img: seconds per image (adapting and scoring); '
           'peak MiB: peak memory of the trial')
#: Validation means closer than this (mIoU points) are a tie, which the
#: config's own values win (when measured over as many seeds).
TIE = 0.05
#: Columns after the domains, in order.
SUMMARY_COLUMNS = ('mean', 'source after', 's/img', 'peak MiB')


def load_trials(work_root: str) -> List[dict]:
    """The trials of ``work_root/sweep.json``, each with ``results`` (its
    results.json when complete, else None; also None for a trial refused
    as a conflict, whose work dir holds another run's results)."""
    path = osp.join(work_root, SWEEP_FILE)
    if not osp.isfile(path):
        raise FileNotFoundError(f'no {SWEEP_FILE} in {work_root}: not the '
                                'work root of a sweep')
    with open(path) as f:
        trials = json.load(f)['trials']
    for trial in trials:
        res = read_results(osp.join(work_root, trial['name']))
        ours = trial.get('status') != 'conflict'
        trial['results'] = res if ours and res and res.get('complete') \
            else None
    return trials


def trial_summary(trial: dict) -> Dict[str, float]:
    """One trial's numbers (see the module docstring)."""
    res = trial['results']
    run = summarise_run(res)
    out = {d: run[d] for d in res['domains']}
    out['mean'] = run['mean']
    if 'source after' in run:
        out['source after'] = run['source after']
    recs = res['records']
    images = sum(r.get('num_images', 0) for r in recs)
    if images:
        out['s/img'] = sum(r.get('seconds', 0.0) for r in recs) / images
    out['peak MiB'] = trial.get('peak_cuda_mb') or trial.get('peak_rss_mb')
    return out


def mean_std(values: List[float]) -> Tuple[Optional[float],
                                           Optional[float], int]:
    """Mean, sample standard deviation (None below two values), count."""
    values = [v for v in values if v is not None]
    if not values:
        return None, None, 0
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, None, len(values)
    var = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return mean, math.sqrt(var), len(values)


def params_key(params: Optional[dict]) -> str:
    """A grid point as text (``'a.lr=0.001,b=2'``), the form choices use."""
    params = params or {}
    return ','.join(f'{k}={params[k]}' for k in sorted(params))


def group_key(trial: dict) -> Tuple[str, str, str]:
    return trial['key'], trial['stream'], params_key(trial.get('params'))


def chosen_trials(trials: list, chosen: Dict[str, dict],
                  test_stream: str) -> list:
    """The :class:`~tta_seg.sweep.spec.Trial` objects of ``test_stream``
    at the grid points ``chosen`` (of :func:`choose_on_validation`)."""
    return [t for t in trials if t.stream == test_stream and
            chosen.get(t.key, {}).get('params') == params_key(t.params)]


def leaderboard(trials: List[dict]) -> List[dict]:
    """One row per group of finished trials: ``key``, ``stream``,
    ``params``, ``method``, ``n`` (seeds), ``seeds``, ``stats`` (column ->
    (mean, std)) and ``rounds`` (per-round mean mIoU of each seed, for
    the plot); in the order the groups first appear."""
    groups: Dict[tuple, List[dict]] = {}
    for trial in trials:
        if trial.get('results'):
            groups.setdefault(group_key(trial), []).append(trial)
    rows = []
    for (key, stream, params), members in groups.items():
        summaries = [trial_summary(t) for t in members]
        columns = list(dict.fromkeys(c for s in summaries for c in s))
        stats = {c: mean_std([s.get(c) for s in summaries])[:2]
                 for c in columns}
        rows.append(dict(key=key, stream=stream, params=params,
                         method=members[0]['results']['method'],
                         n=len(members), seeds=[t['seed'] for t in members],
                         stats=stats, rounds=[_round_means(t['results'])
                                              for t in members]))
    return rows


def _round_means(res: dict) -> List[float]:
    rounds = sorted({r['round'] for r in res['records']})
    return [mean_of([r['mIoU'] for r in res['records'] if r['round'] == k])
            for k in rounds]


def choose_on_validation(trials: List[dict], val_stream: str,
                         metric: str = 'mean',
                         faithful: Optional[Dict[str, str]] = None
                         ) -> Dict[str, dict]:
    """For each config key, the grid point with the best mean ``metric``
    over seeds on ``val_stream``; only that stream's trials are read (and
    which point is the faithful one). A point within :data:`TIE` of the
    best, over as many seeds, that equals the config's own values
    (:func:`~.tuned.faithful_points`) is chosen instead: a difference that
    small does not justify leaving the paper's value. ``faithful``: those
    points where the caller has them already (default: read from the
    validation rows).

    Returns:
        dict: config key -> dict(params=text, score=mean, n=seeds,
        candidates={params text: mean}, faithful=the faithful point's
        text where known).
    """
    from .tuned import faithful_points
    val = [t for t in trials if t['stream'] == val_stream]
    chosen, seeds = {}, {}
    for row in leaderboard(val):
        score = row['stats'].get(metric, (None, None))[0]
        entry = chosen.setdefault(row['key'], dict(candidates={}))
        entry['candidates'][row['params']] = score
        seeds[row['key'], row['params']] = row['n']
        if score is not None and score > entry.get('score', -math.inf):
            entry.update(params=row['params'], score=score, n=row['n'])
    if faithful is None:
        faithful = faithful_points(val)
    for key, point in faithful.items():
        if key not in chosen:
            continue
        entry = chosen[key]
        entry['faithful'] = point
        own = entry['candidates'].get(point)
        if own is not None and 'score' in entry and \
                own >= entry['score'] - TIE and \
                seeds[key, point] >= entry['n']:
            entry.update(params=point, score=own, n=seeds[key, point])
    return chosen


def selected_rows(rows: List[dict], chosen: Dict[str, dict],
                  test_stream: str) -> List[dict]:
    """The test-stream rows of the chosen grid points, each with the
    validation score it was chosen by (``val``)."""
    out = []
    for row in rows:
        pick = chosen.get(row['key'])
        if row['stream'] == test_stream and pick and \
                pick.get('params') == row['params']:
            out.append(dict(row, val=pick['score']))
    return out


def _label(row: dict, *parts: str) -> str:
    """``Method (key)`` of a leaderboard row, then ``parts`` (e.g. its
    stream and grid point) where not empty."""
    return ' '.join([f"{row['method']} ({row['key']})", *parts]).strip()


def _cell(stat) -> str:
    mean, std = stat if stat else (None, None)
    if mean is None:
        return '-'
    digits = 3 if abs(mean) < 1 else 1
    text = f'{mean:.{digits}f}'
    return text if std is None else f'{text} ± {std:.{digits}f}'


def table(rows: List[dict], extra: Tuple[str, ...] = ()) -> List[List[str]]:
    """Header + one line per row: run, stream, params, n, each domain,
    the summary columns (and ``extra`` top-level row keys)."""
    domains = list(dict.fromkeys(
        c for r in rows for c in r['stats'] if c not in SUMMARY_COLUMNS))
    columns = domains + [c for c in SUMMARY_COLUMNS
                         if any(c in r['stats'] for r in rows)]
    out = [['run', 'stream', 'overrides', 'seeds'] + columns + list(extra)]
    for r in rows:
        out.append([_label(r), r['stream'],
                    r['params'] or '-', str(r['n'])] +
                   [_cell(r['stats'].get(c)) for c in columns] +
                   [_cell((r.get(e), None)) for e in extra])
    return out


def markdown(rows: List[List[str]], title: str) -> str:
    return markdown_table(rows, title, CAPTION)


def stream_grid(
        rows: List[dict]) -> Tuple[List[str], List[str], List[List[tuple]]]:
    """The leaderboard as runs × streams: run labels (method, key and grid
    point, in order of first appearance), the streams (likewise) and per
    run and stream the (mean, std) of the mean mIoU, None where that run
    has no finished trial on that stream."""
    runs, streams, cells = [], [], {}
    for r in rows:
        run = _label(r, r['params'])
        runs += [run] if run not in runs else []
        streams += [r['stream']] if r['stream'] not in streams else []
        cells[run, r['stream']] = r['stats'].get('mean')
    return runs, streams, [[cells.get((run, s)) for s in streams]
                           for run in runs]


def _plot_stream_grid(rows: List[dict], path: str, title: str) -> None:
    """Heat map of the mean mIoU of every run (rows) on every stream
    (columns), each cell annotated with its mean (± std over seeds)."""
    import matplotlib
    import numpy as np

    runs, streams, grid = stream_grid(rows)
    values = np.array([[c[0] if c and c[0] is not None else np.nan
                        for c in line] for line in grid], dtype=float)
    fig, ax = new_figure(figsize=(4 + 1.3 * len(streams),
                                  0.32 * len(runs) + 1.8))
    image = ax.imshow(np.ma.masked_invalid(values), aspect='auto',
                      cmap=matplotlib.colormaps['viridis'].with_extremes(
                          bad='0.9'))
    middle = np.nanmean(values) if np.isfinite(values).any() else 0.0
    for i, line in enumerate(grid):
        for j, cell in enumerate(line):
            if not cell or cell[0] is None:
                continue
            text = f'{cell[0]:.1f}' + ('' if cell[1] is None
                                       else f' ± {cell[1]:.1f}')
            ax.text(j, i, text, ha='center', va='center', fontsize=7,
                    color='black' if cell[0] > middle else 'white')
    ax.set_xticks(range(len(streams)))
    ax.set_xticklabels(streams, fontsize=8)
    ax.xaxis.tick_top()
    ax.set_yticks(range(len(runs)))
    ax.set_yticklabels(runs, fontsize=7)
    fig.colorbar(image, ax=ax, label='mean mIoU (%) over the stream',
                 shrink=0.6)
    if title:
        ax.set_title(title, fontsize=10, pad=24)
    save_figure(fig, path)


def plot(rows: List[dict], path: str, title: str = '') -> None:
    """One stream: left, mean mIoU per round, mean over seeds with a ± std
    band; right, each row's mean with its std as an error bar. Several
    streams: a runs × streams heat map of the mean (:func:`stream_grid`),
    which stays readable where one line per (run, stream) would not."""
    if len({r['stream'] for r in rows}) > 1:
        _plot_stream_grid(rows, path, title)
        return
    import matplotlib.pyplot as plt

    fig, (left, right) = new_figure(
        1, 2, figsize=(13, 0.35 * len(rows) + 3),
        gridspec_kw=dict(width_ratios=[3, 2]))
    colours = plt.get_cmap('tab20' if len(rows) > 10 else 'tab10')
    labels = [_label(r, r['stream'], r['params']) for r in rows]
    for i, (row, label) in enumerate(zip(rows, labels)):
        per_round = list(zip(*row['rounds']))
        stats = [mean_std(list(v)) for v in per_round]
        xs = range(1, len(stats) + 1)
        mean = [s[0] for s in stats]
        std = [s[1] or 0.0 for s in stats]
        colour = colours(i % colours.N)
        left.plot(xs, mean, marker='o', color=colour, label=label)
        left.fill_between(xs, [m - s for m, s in zip(mean, std)],
                          [m + s for m, s in zip(mean, std)],
                          color=colour, alpha=0.2)
    rounds = max((len(r['rounds'][0]) for r in rows), default=1)
    left.set_xticks(range(1, rounds + 1))
    left.set_xlabel('round')
    left.set_ylabel('mIoU (%), mean over the round')
    left.grid(alpha=0.3)
    left.legend(fontsize=7)
    means = [r['stats'].get('mean', (None, None)) for r in rows]
    right.barh(range(len(rows)), [m or 0.0 for m, _ in means],
               xerr=[s or 0.0 for _, s in means],
               color=[colours(i % colours.N) for i in range(len(rows))])
    right.set_yticks(range(len(rows)))
    right.set_yticklabels(labels, fontsize=7)
    right.invert_yaxis()
    right.set_xlabel('mIoU (%), mean ± std over seeds')
    if title:
        fig.suptitle(title, fontsize=10)
    save_figure(fig, path)


def write_leaderboard(work_root: str, title: str = 'Sweep leaderboard',
                      val_stream: Optional[str] = None,
                      test_stream: Optional[str] = None) -> str:
    """Write ``leaderboard.{md,csv,png}`` into the work root (and, with a
    validation stream, ``selected.{md,csv}``: the test-stream rows of the
    grid points chosen on it); return the Markdown."""
    from tta_seg.utils.io import atomic_write_text
    trials = load_trials(work_root)
    rows = leaderboard(trials)
    if not rows:
        raise RuntimeError(f'no finished trial in {work_root}')
    grid = table(rows)
    text = markdown(grid, title)
    failed = [t for t in trials if t.get('status') == 'failed']
    if failed:
        text += '\nfailed trials:\n' + ''.join(
            f"- {t['name']}: {t.get('error')}\n" for t in failed)
    if val_stream:
        chosen = choose_on_validation(trials, val_stream)
        picked = selected_rows(rows, chosen, test_stream)
        sel = table(picked, extra=('val', ))
        sel_text = markdown(sel, f'{title}: chosen on the {val_stream} '
                            f'stream, reported on {test_stream}')
        atomic_write_text(osp.join(work_root, 'selected.md'), sel_text)
        write_csv(osp.join(work_root, 'selected.csv'), sel)
        text += '\n' + sel_text
    atomic_write_text(osp.join(work_root, 'leaderboard.md'), text)
    write_csv(osp.join(work_root, 'leaderboard.csv'), grid)
    plot(rows, osp.join(work_root, 'leaderboard.png'), title)
    return text
