"""The one reporting layer: tables (Markdown and CSV), number cells and
figures, written atomically. Used by a run's summary
(:mod:`.results`), the sweep leaderboard (:mod:`tta_seg.sweep.leaderboard`),
``tta-seg report`` and ``tta-seg calibrate``, so every table of the
project looks and is written the same way.

A table is a list of rows of strings, the first row the header.
"""
import csv
import io
import math
from typing import List, Optional, Sequence

from tta_seg.utils.io import atomic_write, atomic_write_text

Table = List[List[str]]


def fmt(value: Optional[float], digits: int = 1) -> str:
    """A number cell: ``digits`` decimals, ``-`` for missing or NaN, ints
    as they are."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return '-'
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return f'{value:.{digits}f}'


def mean_of(values: Sequence[Optional[float]]) -> Optional[float]:
    """Mean of the values present (None when there is none)."""
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def markdown_rows(rows: Table, align: Optional[str] = None) -> List[str]:
    """The lines of a Markdown table (``align='right'``: numeric columns
    after the first right-aligned)."""
    rule = '|' + '---|' * len(rows[0]) if align != 'right' else \
        '|---|' + '---:|' * (len(rows[0]) - 1)
    return (['| ' + ' | '.join(rows[0]) + ' |', rule] +
            ['| ' + ' | '.join(r) + ' |' for r in rows[1:]])


def markdown_table(rows: Table, title: str = '', caption: str = '',
                   heading: str = '##', align: Optional[str] = None) -> str:
    """A titled Markdown table: ``heading title``, the caption, the table
    (``heading='**'`` makes the title bold text instead)."""
    lines = []
    if title:
        lines += [f'**{title}**' if heading == '**' else f'{heading} {title}',
                  '']
    if caption:
        lines += [caption, '']
    return '\n'.join(lines + markdown_rows(rows, align)) + '\n'


def csv_text(rows: Table) -> str:
    """Rows as CSV text."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue()


def write_csv(path: str, rows: Table) -> None:
    """Write ``rows`` as CSV, atomically."""
    atomic_write_text(path, csv_text(rows))


def new_figure(*args, **kwargs):
    """``plt.subplots`` on the non-interactive Agg backend."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt.subplots(*args, **kwargs)


def save_figure(fig, path: str) -> None:
    """Lay out, write atomically as PNG and close a matplotlib figure."""
    import matplotlib.pyplot as plt
    fig.tight_layout()
    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=120,
                                                   format='png'))
    finally:
        plt.close(fig)
