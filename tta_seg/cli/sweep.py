"""Run a sweep (configs × streams × grid × seeds) on Ray; its leaderboard.

    python tools/sweep.py [SWEEP_CONFIG] [--configs CFG.py ...]
        [--seeds 0 1 2] [--grid KEY=V1,V2 ...] [--streams fixed random ...]
        [--cfg-options k=v ...] [--data-root [NAME=]PATH ...]
        [--work-root DIR] [--address ADDR] [--num-cpus N]
        [--cpus-per-trial C] [--gpus-per-trial G] [--max-retries R]
        [--val-stream NAME --test-stream NAME] [--test-all] [--faithful]
        [--write-tuned] [--only PATTERN ...] [--report-only] [--dry-run]

A sweep config (``configs/sweeps/*.py``) defines ``sweep = dict(...)``
(:mod:`tta_seg.sweep.spec`); the flags replace its entries or, without a
file, define the sweep. ``--streams`` selects stream variants by name:
the sweep config's own (e.g. ``gradual``), else the presets
(:data:`tta_seg.sweep.spec.STREAM_PRESETS`). Without ``--address`` (or
``$RAY_ADDRESS``) a local Ray instance runs the trials; with it, the
same command runs them on an existing cluster. Re-running a sweep skips
its finished trials and resumes interrupted ones. Writes
``sweep.json`` (every trial's status), ``leaderboard.{md,csv,png}``
and, with ``--val-stream``, ``selected.{md,csv}`` into the work root.
With a validation stream the sweep runs in two phases: the validation
trials, then on the test stream only the grid point each config chose
(``--test-all`` runs every test trial; ``--faithful``, or
``selection=dict(faithful=True)``, also the grid point of each config's
own values), and ``tuned.{md,csv}`` compares the faithful and the chosen
point. ``--write-tuned`` stores each choice as a config beside the
method's (``<method>-tuned_<rest>.py``, :mod:`tta_seg.sweep.tuned`; from
an installed package: under ``./configs/<method>/``), once every
validation point of that config has finished.

Exit code: 0 when every trial finished; 1 when a trial failed or was
refused as a conflict (its work dir holds another run's complete results;
its finished row in ``sweep.json`` is kept), each named on stderr; 2 when
the sweep could not start (an address that does not answer, more CPUs or
GPUs per trial than any node has).
"""
import argparse
import fnmatch
import os.path as osp
import sys

import tta_seg  # noqa: E402,F401  (mmcv-lite shim before mmseg)
from mmengine.config import DictAction  # noqa: E402

from tta_seg.sweep.spec import (STREAM_PRESETS, expand,  # noqa: E402
                                load_sweep, parse_grid, select_streams)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('sweep', nargs='?', help='sweep config file')
    p.add_argument('--configs', nargs='+', help='method configs')
    p.add_argument('--seeds', nargs='+', type=int)
    p.add_argument('--grid', nargs='+', metavar='KEY=V1,V2',
                   help='overrides to sweep (cartesian product)')
    p.add_argument('--streams', nargs='+', metavar='NAME',
                   help='stream variants: the sweep config\'s own by name, '
                   f'else the presets ({", ".join(sorted(STREAM_PRESETS))})')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='overrides of every trial')
    p.add_argument('--data-root', action='append', metavar='[NAME=]PATH')
    p.add_argument('--work-root', help='default: the sweep\'s work_root, '
                   'else work_dirs/sweeps/<sweep config name>')
    p.add_argument('--address', help='Ray cluster (default $RAY_ADDRESS, '
                   'else a local instance)')
    p.add_argument('--launcher', default='ray', choices=['ray', 'serial'],
                   help='ray (default): Ray tasks, local or on a cluster; '
                   'serial: one trial after another in this process')
    p.add_argument('--num-cpus', type=int,
                   help='CPUs of the local instance (default all)')
    p.add_argument('--cpus-per-trial', type=float, default=1)
    p.add_argument('--gpus-per-trial', type=float, default=0)
    p.add_argument('--max-retries', type=int, default=3,
                   help='retries of a trial whose worker died')
    p.add_argument('--val-stream', help='choose grid points on this stream')
    p.add_argument('--test-stream', help='... and report them on this one')
    p.add_argument('--test-all', action='store_true',
                   help='with a validation stream, also run every grid '
                   'point on the test stream (default: only the chosen)')
    p.add_argument('--faithful', action='store_true',
                   help='with a validation stream, also run each config\'s '
                   'own values on the test stream (faithful vs tuned)')
    p.add_argument('--write-tuned', action='store_true',
                   help='write each config\'s chosen values as a config '
                   'beside it (<method>-tuned_<rest>.py)')
    p.add_argument('--title', default=None)
    p.add_argument('--report-only', action='store_true',
                   help='only rewrite the leaderboard')
    p.add_argument('--only', nargs='+', metavar='PATTERN',
                   help='run only the trials whose names match one of '
                   "these shell patterns (e.g. 'r18_cotta-budget-*'); the "
                   'leaderboard still shows every finished trial')
    p.add_argument('--dry-run', action='store_true',
                   help='list the trials and check their configs')
    return p.parse_args(argv)


def build_sweep(args) -> dict:
    overrides = dict(configs=args.configs, seeds=args.seeds,
                     data_roots=args.data_root)
    if args.grid:
        overrides['grid'] = parse_grid(args.grid)
    if args.cfg_options:
        overrides['cfg_options'] = dict(args.cfg_options)
    if args.sweep:
        sweep = load_sweep(args.sweep, overrides)
    elif not args.configs:
        raise SystemExit('give a sweep config or --configs')
    else:
        sweep = {k: v for k, v in overrides.items() if v is not None}
    if args.streams:
        try:
            sweep['streams'] = select_streams(args.streams,
                                              sweep.get('streams'))
        except KeyError as err:
            raise SystemExit(f'--streams: {err.args[0]}')
    return sweep


def main(argv=None):
    from tta_seg.sweep.engine import CONFLICT, SweepNotStarted, run_sweep
    from tta_seg.sweep.leaderboard import write_leaderboard
    from tta_seg.sweep.selection import run_selected
    from tta_seg.sweep.spec import check_trials
    from tta_seg.sweep.tuned import write_tuned_configs, write_tuned_table
    args = parse_args(argv)
    sweep = build_sweep(args)
    name = osp.splitext(osp.basename(args.sweep or 'sweep'))[0]
    work_root = args.work_root or sweep.get('work_root') or osp.join(
        'work_dirs', 'sweeps', name)
    selection = dict(sweep.get('selection') or {})
    val = args.val_stream or selection.get('val')
    test = args.test_stream or selection.get('test')
    if val and not test:
        raise SystemExit('--val-stream needs --test-stream')
    if args.write_tuned and not val:
        raise SystemExit('--write-tuned needs a validation stream '
                         '(--val-stream or the sweep\'s selection)')
    faithful = args.faithful or bool(selection.get('faithful'))
    configs = sweep.get('configs')
    entries = configs.values() if isinstance(configs, dict) else []
    if args.write_tuned and (sweep.get('cfg_options') or any(
            isinstance(e, dict) and e.get('cfg_options') for e in entries)):
        raise SystemExit('--write-tuned: this sweep sets cfg_options, '
                         'which a tuned config would not carry; write the '
                         'overrides into the method configs instead')
    trials = expand(sweep)
    from tta_seg.sweep.tuned import is_faithful
    from tta_seg.utils.paths import FROM_CHECKOUT
    for trial in trials if val else []:  # in sweep.json: the tie rule's
        try:
            trial.faithful = is_faithful(trial.config, trial.params)
        except Exception:  # noqa: BLE001 (check_trials reports the config)
            trial.faithful = None
    expected = {}
    for trial in trials:
        if trial.stream == val:
            expected.setdefault(trial.key, set()).add(trial.name)
    if args.only:
        trials = [t for t in trials
                  if any(fnmatch.fnmatchcase(t.name, p) for p in args.only)]
        if not trials:
            raise SystemExit(f'--only {args.only}: no trial matches')
    if args.dry_run:
        conflicts = {}
        errors = check_trials(trials, work_root, conflicts)
        for trial in trials:
            print(trial.name, errors.get(trial.name) or (
                f'conflict: {conflicts[trial.name]}'
                if trial.name in conflicts else 'ok'))
        return 1 if errors or conflicts else 0
    failed = {}
    if not args.report_only:
        def run(part):
            return run_sweep(part, work_root, args.address,
                             args.cpus_per_trial, args.gpus_per_trial,
                             args.max_retries, args.num_cpus,
                             launcher=args.launcher)
        try:
            outcomes = run_selected(trials, work_root, run, val, test,
                                    args.test_all, faithful)
        except SweepNotStarted as err:  # nothing was submitted
            print(f'sweep not started: {err}', file=sys.stderr)
            return 2
        failed = {n: o for n, o in outcomes.items()
                  if o['status'] in ('failed', CONFLICT)}
        for n, o in failed.items():
            print(f"{o['status'].upper()} {n}: {o['error']}",
                  file=sys.stderr)
    title = args.title or f'Sweep {name}'
    print(write_leaderboard(work_root, title, val, test))
    if val:
        print(write_tuned_table(work_root, val, test, title))
    if args.write_tuned:
        # an installed package's configs are not the user's to change:
        # then ./configs/<method>/, inheriting them by absolute path
        for key, path in write_tuned_configs(
                work_root, val, args.sweep or '--configs ...', test,
                expected, None if FROM_CHECKOUT else 'configs').items():
            print(f'{key}: ' + (f'wrote {path}' if path else 'validation '
                                'grid not finished, no tuned config'))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
