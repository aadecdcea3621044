"""Compare many continual-TTA runs: one table and one plot.

    python tools/report.py WORK_DIR_OR_GLOB [...] [--out DIR] [--title T]

Each argument is a work dir holding ``results.json``, the file itself, or a
glob of either. Writes ``comparison.md``, ``comparison.csv`` and
``comparison.png`` (mIoU along the stream, one line per run) into ``--out``
(default ``work_dirs/report``) and prints the Markdown table.
Rows: runs (labelled ``method (config stem)``); columns: each domain's mIoU
averaged over rounds, then round-1 and last-round means, the mean over all
records and, where present, the mIoU on the source split after the last
round (forgetting check).
"""
import argparse
import csv
import glob
import json
import os
import os.path as osp
import sys
from typing import Dict, List

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from tta_seg.evaluation.results import (RESULTS_FILE,  # noqa: E402
                                        atomic_write_text, plot_stream)


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
    stem = osp.splitext(osp.basename(res.get('config') or ''))[0]
    return f"{res['method']} ({stem})" if stem else res['method']


def _mean(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def summarise(res: dict) -> Dict[str, float]:
    """One row of the comparison (see module docstring)."""
    recs = res['records']
    row = {d: _mean([r['mIoU'] for r in recs if r['domain'] == d])
           for d in res['domains']}
    rounds = sorted({r['round'] for r in recs})
    if rounds:
        row['round 1'] = _mean([r['mIoU'] for r in recs if r['round'] == 1])
        row['last round'] = _mean(
            [r['mIoU'] for r in recs if r['round'] == rounds[-1]])
    row['mean'] = _mean([r['mIoU'] for r in recs])
    if res.get('forgetting'):
        row['source after'] = res['forgetting'][-1]['mIoU']
    return row


def build_table(results: List[dict]) -> List[List[str]]:
    rows = [(label_of(r), summarise(r)) for r in results]
    columns = list(dict.fromkeys(k for _, row in rows for k in row))
    table = [['run'] + columns]
    for label, row in rows:
        table.append([label] + [
            '-' if row.get(c) is None else f'{row[c]:.1f}' for c in columns])
    return table


def to_markdown(table: List[List[str]], title: str) -> str:
    lines = [f'## {title}', '', 'mIoU (%); domain columns average the '
             'rounds', '', '| ' + ' | '.join(table[0]) + ' |',
             '|' + '---|' * len(table[0])]
    lines += ['| ' + ' | '.join(r) + ' |' for r in table[1:]]
    return '\n'.join(lines) + '\n'


def main(argv=None):
    parser = argparse.ArgumentParser(description='compare TTA runs')
    parser.add_argument('runs', nargs='+')
    parser.add_argument('--out', default=osp.join('work_dirs', 'report'))
    parser.add_argument('--title', default='Continual TTA comparison')
    args = parser.parse_args(argv)
    results = []
    for path in find_results(args.runs):
        with open(path) as f:
            results.append(json.load(f))
    table = build_table(results)
    os.makedirs(args.out, exist_ok=True)
    text = to_markdown(table, args.title)
    atomic_write_text(osp.join(args.out, 'comparison.md'), text)
    with open(osp.join(args.out, 'comparison.csv'), 'w', newline='') as f:
        csv.writer(f).writerows(table)
    plot_stream([], osp.join(args.out, 'comparison.png'), title=args.title,
                series={label_of(r): r['records'] for r in results})
    print(text)
    return table


if __name__ == '__main__':
    main()
