"""Run every method on the embedded benchmark and compare them.

The preset sweep ``configs/sweeps/embedded.py`` (:mod:`tta_seg.sweep`, on
a local Ray instance), filtered by model and method.

    python tools/run_all.py [--models r18 b0] [--methods source tent ...]
        [--jobs 2] [--seeds 0] [--streams fixed] [--work-root DIR]
        [--cfg-options k=v ...] [--address ADDR]

``--jobs`` trials run at once, each with ``cores / jobs`` CPUs (threads).
Finished trials are skipped and interrupted ones resumed. Writes the
sweep's leaderboard into the work root and the ``tools/report.py``
comparisons per model into ``<work-root>/report_<model>``.
"""
import argparse
import os
import os.path as osp
import subprocess
import sys

import tta_seg  # noqa: E402,F401  (mmcv-lite shim before mmseg)
from mmengine.config import DictAction  # noqa: E402

from tta_seg.sweep.spec import (STREAM_PRESETS, expand,  # noqa: E402
                                load_sweep)
from tta_seg.utils.paths import ASSET_ROOT  # noqa: E402

PRESET = osp.join(ASSET_ROOT, 'configs', 'sweeps', 'embedded.py')


def select(configs: dict, models, methods) -> dict:
    """The preset's configs of the given models (key prefix) and methods
    (the rest of the key)."""
    out = {}
    for key, cfg in configs.items():
        model, method = key.split('_', 1)
        if (models is None or model in models) and \
                (methods is None or method in methods):
            out[key] = cfg
    if not out:
        raise SystemExit(f'no preset config for models {models} and '
                         f'methods {methods}; keys: {sorted(configs)}')
    return out


def main(argv=None):
    from tta_seg.sweep.engine import run_sweep
    from tta_seg.sweep.leaderboard import write_leaderboard
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--models', nargs='+')
    p.add_argument('--methods', nargs='+')
    p.add_argument('--jobs', type=int, default=1)
    p.add_argument('--seeds', nargs='+', type=int)
    p.add_argument('--streams', nargs='+', choices=sorted(STREAM_PRESETS))
    p.add_argument('--work-root', default='work_dirs/all')
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    p.add_argument('--address')
    args = p.parse_args(argv)
    sweep = load_sweep(PRESET, dict(seeds=args.seeds))
    sweep['configs'] = select(sweep['configs'], args.models, args.methods)
    if args.streams:
        sweep['streams'] = {n: STREAM_PRESETS[n] for n in args.streams}
    if args.cfg_options:
        sweep['cfg_options'] = dict(args.cfg_options)
    trials = expand(sweep)
    cores = os.cpu_count() or 1
    outcomes = run_sweep(trials, args.work_root, args.address,
                         cpus_per_trial=max(1, cores // args.jobs),
                         num_cpus=None if args.address else cores)
    print(write_leaderboard(args.work_root, 'Embedded benchmark'))
    for model in sorted({k.split('_', 1)[0] for k in sweep['configs']}):
        dirs = [osp.join(args.work_root, t.name) for t in trials
                if t.key.startswith(model + '_') and
                outcomes[t.name]['status'] not in ('failed', 'conflict')]
        if dirs:
            subprocess.call([sys.executable, '-m', 'tta_seg.cli.report',
                             *dirs, '--out',
                             osp.join(args.work_root, f'report_{model}'),
                             '--title', f'Embedded benchmark, {model}'])
    return int(any(o['status'] in ('failed', 'conflict')
                   for o in outcomes.values()))


if __name__ == '__main__':
    sys.exit(main())
