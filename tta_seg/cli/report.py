"""Compare many continual-TTA runs: one table and one plot.

    python tools/report.py WORK_DIR_OR_GLOB [...] [--out DIR] [--title T]

Each argument is a work dir holding ``results.json``, the file itself, or a
glob of either. Writes ``comparison.md``, ``comparison.csv`` and
``comparison.png`` (mIoU along the stream, one line per run) into ``--out``
(default ``work_dirs/report``) and prints the Markdown table.
Rows: runs (labelled ``method (config stem)``, plus their stream protocol
when it is not the fixed order with every frame adapted, their
``--cfg-options`` overrides and, if labels still collide, seed and work
dir); columns: each
domain's mIoU averaged over rounds, then round-1 and last-round means, the
mean over all records, where present the mIoU on the source split after
the last round (forgetting check), and the totals of the adapter's counters
(``skipped_updates``: non-finite losses; SAR's ``recoveries``; ...) and,
for time-budgeted runs, the share of frames adapted on.
"""
import argparse
import glob
import json
import os
import os.path as osp
from typing import List

from tta_seg.evaluation.results import (RESULTS_FILE, plot_stream,
                                        summarise_run)
from tta_seg.evaluation.tables import fmt, markdown_table, write_csv
from tta_seg.utils.io import atomic_write_text, clean_stale_tmp


def find_results(patterns: List[str]) -> List[str]:
    """Expand work dirs / files / globs into results.json paths (sorted)."""
    found = []
    for pattern in patterns:
        for path in sorted(glob.glob(pattern)) or [pattern]:
            if osp.isdir(path):
                path = osp.join(path, RESULTS_FILE)
            if not osp.isfile(path):
                raise FileNotFoundError(f'no {RESULTS_FILE} at {path}')
            found.append(path)
    return list(dict.fromkeys(found))


def label_of(res: dict) -> str:
    """``method (config stem) [overrides]``."""
    stem = osp.splitext(osp.basename(res.get('config') or ''))[0]
    label = f"{res['method']} ({stem})" if stem else res['method']
    label += ''.join(f' [{tag}]' for tag in stream_tags(res))
    overrides = res.get('overrides') or {}
    if overrides:
        label += ' [' + ' '.join(f'{k}={override_text(k, v)}' for k, v in
                                 sorted(overrides.items())) + ']'
    return label


def override_text(key: str, value, limit: int = 60) -> str:
    """An override's value for a label; a whole stream (``test_cfg``, as a
    sweep's stream-file variant passes it) or another long value is
    summarised."""
    text = str(value)
    if len(text) <= limit:
        return text
    if key == 'test_cfg' and isinstance(value, dict):
        names = [d.get('name', '?') for d in value.get('domains') or []]
        return (f"<stream: {value.get('rounds', 1)} rounds of "
                f"{', '.join(names)}>")
    return text[:limit - 3] + '...'


def stream_tags(res: dict) -> List[str]:
    """How the run's stream differs from the fixed, every-frame one."""
    stream, tags = res.get('stream') or {}, []
    if stream.get('order') == 'mixed':
        tags.append('mixed domains')
    elif stream.get('order', 'fixed') != 'fixed':
        tags.append(f"{stream['order']} order")
    schedules = {step['schedule'].get('type', '?')
                 for steps in (stream.get('shifts') or {}).values()
                 for step in steps if step.get('schedule')}
    if schedules:
        tags.append('gradual ' + '/'.join(sorted(schedules)))
    if stream.get('protocol') == 'time budget':
        cost = stream.get('relative_cost')
        tags.append('time budget x' + (f'{cost:.3g}' if isinstance(
            cost, (int, float)) else str(cost)))
        # records from before skip_prediction existed: the adapter's own
        if stream.get('skip_prediction', 'adapter') == 'adapter':
            tags.append("skipped frames: adapter's prediction")
    return tags


def unique_labels(results: List[dict], paths: List[str]) -> List[str]:
    """Labels of the runs; runs that would share one get their seed and,
    if still equal, their work dir appended."""
    labels = [label_of(r) for r in results]
    for extra in (lambda r, p: f"seed {r.get('seed')}",
                  lambda r, p: osp.dirname(p)):
        counts = {lab: labels.count(lab) for lab in labels}
        labels = [f'{lab}, {extra(r, p)}' if counts[lab] > 1 else lab
                  for lab, r, p in zip(labels, results, paths)]
    return labels


def build_table(results: List[dict],
                labels: List[str] = None) -> List[List[str]]:
    labels = labels or [label_of(r) for r in results]
    rows = [(label, summarise_run(r))
            for label, r in zip(labels, results)]
    columns = list(dict.fromkeys(k for _, row in rows for k in row))
    table = [['run'] + columns]
    for label, row in rows:
        table.append([label] + [fmt(row.get(c)) for c in columns])
    return table


def to_markdown(table: List[List[str]], title: str) -> str:
    return markdown_table(table, title, 'mIoU (%); domain columns average '
                          'the rounds; counter columns (skipped_updates, '
                          '...) are totals')


def main(argv=None):
    parser = argparse.ArgumentParser(description='compare TTA runs')
    parser.add_argument('runs', nargs='+')
    parser.add_argument('--out', default=osp.join('work_dirs', 'report'))
    parser.add_argument('--title', default='Continual TTA comparison')
    args = parser.parse_args(argv)
    results, paths = [], find_results(args.runs)
    for path in paths:
        with open(path) as f:
            results.append(json.load(f))
    labels = unique_labels(results, paths)
    table = build_table(results, labels)
    os.makedirs(args.out, exist_ok=True)
    clean_stale_tmp(args.out)
    text = to_markdown(table, args.title)
    atomic_write_text(osp.join(args.out, 'comparison.md'), text)
    write_csv(osp.join(args.out, 'comparison.csv'), table)
    plot_stream([], osp.join(args.out, 'comparison.png'), title=args.title,
                series={lab: r['records'] for lab, r in zip(labels, results)})
    print(text)
    return table


if __name__ == '__main__':
    main()
