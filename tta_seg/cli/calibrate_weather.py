"""Source mIoU of the embedded benchmark's weather at several severities.

For each condition and severity, the model predicts the condition's test
images (the first ``--num-images`` of the generated ACDC-like train
split, the test stream's images) rendered from their clear twins at that
severity (the ``SyntheticWeather`` transform: the same scenes, droplets,
flakes and lamps as the generated images, stronger or weaker). Severity 0
is the clear twin itself, without weather. The model is not adapted
(the ``Source`` adapter), so the table says how much each condition costs
the source model, which is what the weather's severity is calibrated by
(the embedded benchmark aims at ACDC's cost: a 10-25 point drop from
clear weather on average over the conditions, night hardest, then fog).

Severities are the renderer's (``apply_weather``): 1 is its full
strength, the generated benchmark's per-condition severities are
``DEFAULT_SEVERITY`` in :mod:`tta_seg.datasets.synthetic.generate`.

Writes ``<out>.json`` (every cell, per-class IoU included), ``<out>.md``
(mIoU table and drop from the clear twins) and ``<out>.png`` (mIoU
against severity, one line per condition)::

    python tools/calibrate_weather.py \\
        configs/source/source_deeplabv3plus-r18_synthetic.py \\
        --severities 0 0.5 1 --out docs/results/weather_r18
"""
import argparse
import json
import os
import os.path as osp
import time
from typing import Dict, List, Sequence

from tta_seg.apis.run import build_run_cfg, run_tta  # noqa: E402
from tta_seg.datasets.acdc import CONDITIONS  # noqa: E402
from tta_seg.evaluation.tables import (fmt, markdown_table,  # noqa: E402
                                       new_figure, save_figure)

CLEAR = 0.0


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options (see ``--help``)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='a Source config of the embedded '
                        'benchmark, e.g. configs/source/'
                        'source_deeplabv3plus-r18_synthetic.py')
    parser.add_argument('--checkpoint', default=None,
                        help="source weights (default: the config's)")
    parser.add_argument('--severities', type=float, nargs='+',
                        default=[0.0, 0.25, 0.5, 0.75, 1.0],
                        help='severities to render (0 = the clear twin)')
    parser.add_argument('--conditions', nargs='+', default=list(CONDITIONS),
                        choices=CONDITIONS)
    parser.add_argument('--num-images', type=int, default=50,
                        help="images per condition (the test stream's 50)")
    parser.add_argument('--out', required=True,
                        help='output path without suffix (.json/.md/.png)')
    parser.add_argument('--work-dir', default=None,
                        help='run folder (default: '
                        'work_dirs/calibrate_weather/<name of out>)')
    parser.add_argument('--data-root', action='append', default=None,
                        metavar='[NAME=]PATH',
                        help='move a data root the config declares')
    args = parser.parse_args(argv)
    if any(s < 0 for s in args.severities):
        parser.error(f'severities must be >= 0, got {args.severities}')
    if args.num_images < 1:
        parser.error(f'--num-images must be >= 1, got {args.num_images}')
    return args


def domain_name(condition: str, severity: float) -> str:
    """Name of one (condition, severity) cell in the run's records."""
    return f'{condition}@{severity:g}'


def calibration_domains(cfg, conditions: Sequence[str],
                        severities: Sequence[float],
                        num_images: int) -> List[dict]:
    """One stream domain per (condition, severity): the condition's clear
    twins of the test stream, with the weather rendered in the pipeline
    (none at severity 0)."""
    spec = cfg.get('synthetic_benchmark')
    if not spec:
        raise ValueError(f'{cfg.filename} does not use the embedded '
                         'benchmark (no synthetic_benchmark key)')
    acdc = [d['dataset'] for d in cfg.test_cfg.domains
            if d['dataset'].get('type') == 'ACDCDataset']
    if not acdc:
        raise ValueError(f'{cfg.filename}: no ACDCDataset domain in '
                         'test_cfg.domains to take the data root from')
    pipeline = list(acdc[0]['pipeline'])
    if pipeline[0].get('type') != 'LoadCheckedImage':
        raise ValueError(f'{cfg.filename}: the ACDC pipeline must start '
                         'with LoadCheckedImage, got '
                         f'{pipeline[0].get("type")}')
    pipeline = [p for p in pipeline if p.get('type') != 'SyntheticWeather']
    domains = []
    for condition in conditions:
        for severity in severities:
            steps = list(pipeline)
            if severity != CLEAR:
                steps.insert(1, dict(type='SyntheticWeather',
                                     condition=condition,
                                     severity=float(severity),
                                     seed=int(spec.get('seed', 0))))
            dataset = dict(type='ACDCDataset',
                           data_root=acdc[0]['data_root'], split='train',
                           condition=condition, use_ref=True,
                           max_images=num_images, pipeline=steps)
            domains.append(dict(name=domain_name(condition, severity),
                                dataset=dataset))
    return domains


def summarise(records: List[dict], conditions: Sequence[str],
              severities: Sequence[float]) -> Dict[str, Dict[str, float]]:
    """``{condition: {severity: mIoU}}`` from the run's records."""
    by_name = {r['domain']: r['mIoU'] for r in records}
    return {c: {f'{s:g}': by_name[domain_name(c, s)] for s in severities}
            for c in conditions}


def to_markdown(table: Dict[str, Dict[str, float]], title: str) -> str:
    """mIoU per condition (rows) and severity (columns), the mean row,
    and the drop from the clear twins where severity 0 was measured."""
    severities = list(next(iter(table.values())))
    rows = dict(table)
    rows['mean'] = {s: sum(t[s] for t in table.values()) / len(table)
                    for s in severities}
    text = markdown_table(
        [['condition'] + severities] +
        [[name] + [fmt(row[s]) for s in severities]
         for name, row in rows.items()], title, heading='**', align='right')
    if '0' in severities:
        text += '\n' + markdown_table(
            [['condition'] + severities[1:]] +
            [[name] + [fmt(row['0'] - row[s]) for s in severities[1:]]
             for name, row in rows.items()],
            caption='Drop from the clear twins (mIoU points):',
            align='right')
    return text


def plot(table: Dict[str, Dict[str, float]], path: str, title: str) -> None:
    """mIoU against severity, one line per condition."""
    fig, ax = new_figure(figsize=(5.5, 3.6))
    for condition, row in table.items():
        xs = [float(s) for s in row]
        ax.plot(xs, list(row.values()), marker='o', label=condition)
    ax.set_xlabel("severity (1 = the renderer's full strength)")
    ax.set_ylabel('Source mIoU (%)')
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save_figure(fig, path)


def main(argv=None) -> dict:
    args = parse_args(argv)
    severities = sorted(set(args.severities))
    work_dir = args.work_dir or osp.join(
        'work_dirs', 'calibrate_weather', osp.basename(args.out))
    cfg = build_run_cfg(args.config, work_dir=work_dir,
                        data_roots=args.data_root,
                        checkpoint=args.checkpoint)
    if cfg.model.get('type') != 'Source':
        raise ValueError(f'{args.config} adapts ({cfg.model.get("type")}): '
                         'calibrate with a Source config')
    cfg.test_cfg.domains = calibration_domains(
        cfg, args.conditions, severities, args.num_images)
    cfg.test_cfg.update(rounds=1, source=None, order='fixed', mixed=False,
                        time_budget=None, resume=False)
    start = time.perf_counter()
    run_tta(cfg)
    with open(osp.join(cfg.work_dir, 'results.json')) as f:
        results = json.load(f)
    table = summarise(results['records'], args.conditions, severities)
    title = (f'{osp.basename(args.config)}, {args.num_images} images per '
             'condition')
    out = dict(config=args.config,
               checkpoint=cfg.model.get('source_checkpoint'),
               num_images=args.num_images, severities=severities,
               mIoU=table, records=results['records'],
               seconds=round(time.perf_counter() - start, 1))
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    with open(f'{args.out}.json', 'w') as f:
        json.dump(out, f, indent=1)
    markdown = to_markdown(table, title)
    with open(f'{args.out}.md', 'w') as f:
        f.write(markdown)
    plot(table, f'{args.out}.png', title)
    print(markdown)
    print(f'written: {args.out}.json, .md, .png')
    return out


if __name__ == '__main__':
    main()
