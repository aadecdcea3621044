"""Results of a continual TTA run: ``results.json`` and its summaries.

``results.json`` is rewritten atomically after every finished (round,
domain), so an interrupted run keeps everything it finished::

    {"method": str, "config": str, "domains": [str], "rounds": int,
     "records": [{"round": int (1-based), "domain": str, "mIoU": float,
                  "mAcc": float, "aAcc": float,
                  "per_class_iou": {class: float}, "num_images": int,
                  "seconds": float, "skipped_updates": int, ...}],
     "mean_mIoU": float,
     "forgetting": [records of the source split, without adapting],
     "mixed": [records of the whole stream, when its domains are mixed],
     "fingerprint": str, "overrides": {key: value}, "seed": int,
     "identity": {what defines the run, see tta_seg.engine.identity},
     "complete": true (once every record and check is written)}

Metrics are percentages. ``mean_mIoU`` averages the records present.
Every record carries the increase, during that record, of each counter of
the adapter (``BaseAdapter.counters``: ``skipped_updates`` for non-finite
losses, SAR's ``recoveries``, a user adapter's own). ``forgetting`` is
present only when the check is enabled. At the end
:meth:`ResultsWriter.finalize` writes ``summary.md``, ``summary.csv`` and
``miou.png``. Every file is written atomically (:mod:`tta_seg.utils.io`).
"""
import json
import math
import os
import os.path as osp
from typing import Dict, List, Optional

from tta_seg.utils.io import atomic_write_text
from .tables import (csv_text, fmt, markdown_rows, mean_of, new_figure,
                     save_figure)

__all__ = ['RESULTS_FILE', 'ResultsWriter', 'summarise_run', 'mean_of',
           'counter_totals', 'csv_text', 'plot_stream', 'save_figure']

RESULTS_FILE = 'results.json'
#: Record keys that are not counters.
RECORD_KEYS = ('round', 'domain', 'mIoU', 'mAcc', 'aAcc', 'per_class_iou',
               'num_images', 'seconds', 'position', 'frames',
               'adapted_frames')


def _json_float(value: float) -> Optional[float]:
    return None if value is None or math.isnan(value) else round(value, 4)


class ResultsWriter:
    """Collects records and keeps ``results.json`` up to date.

    Args:
        work_dir (str): Output folder (created).
        method (str): Adapter type name.
        config (str): Config path.
        domains (list[str]): Domain order of one round.
        rounds (int): Number of rounds.
        extra (dict, optional): More top-level entries (``fingerprint``,
            ``overrides``, ``seed``, ``identity``).
    """

    def __init__(self, work_dir: str, method: str, config: str,
                 domains: List[str], rounds: int,
                 extra: Optional[dict] = None) -> None:
        os.makedirs(work_dir, exist_ok=True)
        self.work_dir = work_dir
        self.meta = dict(method=method, config=config, domains=list(domains),
                         rounds=rounds)
        self.extra = dict(extra or {})
        self.records: List[dict] = []
        self.forgetting: List[dict] = []
        self.mixed: List[dict] = []

    @staticmethod
    def make_record(round_idx: int, domain: str, metrics: Dict,
                    num_images: int, seconds: float,
                    counters: Optional[Dict[str, int]] = None) -> dict:
        """Build one record from a metric dict and the increases of the
        adapter's counters (see module docstring)."""
        record = dict(
            round=round_idx, domain=domain,
            mIoU=_json_float(metrics['mIoU']),
            mAcc=_json_float(metrics['mAcc']),
            aAcc=_json_float(metrics['aAcc']),
            per_class_iou={k: _json_float(v)
                           for k, v in metrics['per_class_iou'].items()},
            num_images=int(num_images), seconds=round(float(seconds), 3))
        record.update({k: int(v) for k, v in (counters or {}).items()})
        return record

    def add(self, record: dict, forgetting: bool = False,
            mixed: bool = False) -> None:
        """Append a record (of a domain, of the forgetting check, or of a
        whole mixed stream) and rewrite ``results.json``."""
        target = self.forgetting if forgetting else \
            self.mixed if mixed else self.records
        target.append(record)
        self.write()

    def mean_miou(self) -> float:
        values = [r['mIoU'] for r in self.records if r['mIoU'] is not None]
        return sum(values) / len(values) if values else float('nan')

    def as_dict(self) -> dict:
        out = dict(self.meta, records=self.records,
                   mean_mIoU=_json_float(self.mean_miou()))
        if self.forgetting:
            out['forgetting'] = self.forgetting
        if self.mixed:
            out['mixed'] = self.mixed
        out.update(self.extra)
        return out

    def counter_totals(self) -> Dict[str, int]:
        """Sum of every counter over the adapted records."""
        return counter_totals(self.records)

    def write(self) -> None:
        atomic_write_text(osp.join(self.work_dir, RESULTS_FILE),
                          json.dumps(self.as_dict(), indent=1))

    def load_state(self, state: dict) -> None:
        """Restore records (from a resume checkpoint)."""
        self.records = list(state['records'])
        self.forgetting = list(state.get('forgetting', []))
        self.mixed = list(state.get('mixed') or [])

    # ---------------------------------------------------------- summaries --
    def table(self) -> List[List[str]]:
        """Rows = rounds, columns = domains + mean (strings)."""
        by_key = {(r['round'], r['domain']): r['mIoU'] for r in self.records}
        rounds = sorted({r['round'] for r in self.records})
        header = ['round'] + self.meta['domains'] + ['mean']
        rows = [header]
        for rnd in rounds:
            vals = [by_key.get((rnd, d)) for d in self.meta['domains']]
            present = [v for v in vals if v is not None]
            mean = sum(present) / len(present) if present else None
            rows.append([str(rnd)] + [fmt(v) for v in vals] + [fmt(mean)])
        return rows

    def markdown(self) -> str:
        lines = markdown_rows(self.table())
        text = (f"## {self.meta['method']} ({self.meta['config']})\n\n"
                'mIoU (%) per round and domain\n\n' + '\n'.join(lines) +
                f"\n\nmean mIoU over {len(self.records)} records: "
                f'{fmt(self.mean_miou())}\n')
        if self.forgetting:
            text += '\nsource split without adapting, after each round: ' + \
                ', '.join(f"round {r['round']}: {fmt(r['mIoU'])}"
                          for r in self.forgetting) + '\n'
        if self.mixed:
            text += '\nmixed stream (all domains shuffled), per round: ' + \
                ', '.join(f"round {r['round']}: {fmt(r['mIoU'])}"
                          for r in self.mixed) + '\n'
        return text + self._stream_text() + self._counters_text()

    def _stream_text(self) -> str:
        """Orders other than the fixed one, and the time budget's effect."""
        stream, text = self.extra.get('stream') or {}, ''
        if stream.get('order') in ('random', 'explicit'):
            text += '\ndomain order: ' + '; '.join(
                f"round {i}: {' > '.join(o)}"
                for i, o in enumerate(stream['orders'], 1)) + '\n'
        frames = sum(r.get('frames', 0) for r in self.records)
        if frames:
            adapted = sum(r.get('adapted_frames', 0) for r in self.records)
            text += (f"\ntime budget: relative cost "
                     f"{stream.get('relative_cost')}, adapted on one frame "
                     f"in {stream.get('adapt_every')}: {adapted} of "
                     f'{frames} frames ({100 * adapted / frames:.1f} %); '
                     'the others predicted by '
                     + ("the adapter's full prediction"
                        if stream.get('skip_prediction', 'adapter')
                        == 'adapter' else 'one forward of its model')
                     + '\n')
        return text

    def _counters_text(self) -> str:
        """Counter totals, and where a non-zero counter rose."""
        totals = self.counter_totals()
        if not totals:
            return ''
        parts = []
        for key, total in totals.items():
            where = [f"round {r['round']} {r['domain']}: {r[key]}"
                     for r in self.records if r.get(key)]
            parts.append(f'{key} {total}' +
                         (f" ({', '.join(where)})" if where else ''))
        return '\nadapter counters: ' + '; '.join(parts) + '\n'

    def csv_text(self) -> str:
        return csv_text(self.table())

    def finalize(self) -> str:
        """Mark ``results.json`` complete (``"complete": true``: every
        record and check written; sweeps skip such runs) and write
        summary.md, summary.csv and miou.png; return the markdown."""
        self.extra['complete'] = True
        self.write()
        text = self.markdown()
        atomic_write_text(osp.join(self.work_dir, 'summary.md'), text)
        atomic_write_text(osp.join(self.work_dir, 'summary.csv'),
                          self.csv_text())
        plot_stream(self.records, osp.join(self.work_dir, 'miou.png'),
                    title=self.meta['method'])
        return text


def summarise_run(res: dict) -> Dict[str, float]:
    """One run's numbers from its ``results.json`` dict: each domain's mIoU
    averaged over the rounds, round-1 and last-round means, the mean over
    all records, the source split after the last round (when checked),
    the share of frames adapted on (time budget) and the counter totals.
    A row of ``tools/report.py``; the sweep leaderboard's per-trial base."""
    recs = res['records']
    row = {d: mean_of([r['mIoU'] for r in recs if r['domain'] == d])
           for d in res['domains']}
    rounds = sorted({r['round'] for r in recs})
    if rounds:
        row['round 1'] = mean_of([r['mIoU'] for r in recs if r['round'] == 1])
        row['last round'] = mean_of(
            [r['mIoU'] for r in recs if r['round'] == rounds[-1]])
    row['mean'] = mean_of([r['mIoU'] for r in recs])
    if res.get('forgetting'):
        row['source after'] = res['forgetting'][-1]['mIoU']
    frames = sum(r.get('frames', 0) for r in recs)
    if frames:
        row['adapted %'] = 100.0 * sum(r.get('adapted_frames', 0)
                                       for r in recs) / frames
    row.update(counter_totals(recs))
    return row


def counter_totals(records: List[dict]) -> Dict[str, int]:
    """Totals of the adapter counters that ``records`` carry (every int
    field that is not one of :data:`RECORD_KEYS`)."""
    totals: Dict[str, int] = {}
    for rec in records:
        for key, value in rec.items():
            if key not in RECORD_KEYS and isinstance(value, int):
                totals[key] = totals.get(key, 0) + value
    return totals


def plot_stream(records: List[dict], path: str, title: str = '',
                series: Optional[Dict[str, List[dict]]] = None) -> None:
    """Plot mIoU along the stream: one point per (round, domain).

    Args:
        records (list[dict]): Records of one method.
        path (str): Output PNG.
        title (str): Plot title / legend label of ``records``.
        series (dict, optional): More ``{label: records}`` lines.
    """
    import matplotlib.pyplot as plt
    lines = dict(series or {})
    if records:
        lines = {title or 'method': records, **lines}
    many = len(lines) > 3
    fig, ax = new_figure(figsize=(13 if many else 10, 4 if many else 3.5))
    colours = plt.get_cmap('tab20' if len(lines) > 10 else 'tab10')
    ticks: List[str] = []
    for i, (label, recs) in enumerate(lines.items()):
        ax.plot(range(len(recs)), [r['mIoU'] for r in recs], marker='o',
                markersize=3, label=label, color=colours(i % colours.N),
                linestyle=('-', '--', ':')[(i // 10) % 3])
        if len(recs) > len(ticks):
            ticks = [f"{r['domain']}\nr{r['round']}" for r in recs]
    ax.set_xticks(range(len(ticks)))
    ax.set_xticklabels(ticks, fontsize=7)
    ax.set_ylabel('mIoU (%)')
    if title and many:
        ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    if many:  # beside the plot, never over the lines
        ax.legend(fontsize=7, loc='upper left', bbox_to_anchor=(1.01, 1.0))
    else:
        ax.legend(fontsize=8)
    save_figure(fig, path)
