"""The ``tta-seg`` command: one entry point, a subcommand per tool.

    tta-seg run CONFIG       continual TTA run       (tools/test_tta.py)
    tta-seg sweep [SWEEP]    sweep on Ray            (tools/sweep.py)
    tta-seg report WORK_DIR  compare finished runs   (tools/report.py)
    tta-seg bench CONFIG     speed and memory        (tools/benchmark.py)
    tta-seg train CONFIG     source / warm-up        (tools/train.py)
    tta-seg make-data        embedded benchmark data (tools/make_synthetic.py)
    tta-seg run-all          every embedded method   (tools/run_all.py)
    tta-seg calibrate        weather severity (tools/calibrate_weather.py)

Each subcommand takes the flags of its tool (``tta-seg run --help``); the
scripts in ``tools/`` call the same modules, so both spellings stay equal.
Modules are imported only when their subcommand runs (mmseg is slow to
import).
"""
import importlib
import sys
from typing import List, Optional

#: subcommand -> (module in tta_seg.cli, one-line help).
COMMANDS = {
    'run': ('run', 'run continual test-time adaptation over a stream'),
    'sweep': ('sweep', 'run a sweep (configs x streams x grid x seeds)'),
    'report': ('report', 'compare finished runs (table, CSV, plot)'),
    'bench': ('bench', 'speed and memory against Source inference'),
    'train': ('train', 'train a source model or an adapter warm-up'),
    'make-data': ('make_synthetic', 'generate the embedded benchmark'),
    'run-all': ('run_all', 'every method on the embedded benchmark'),
    'calibrate': ('calibrate_weather', 'calibrate the weather severity'),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ['usage: tta-seg COMMAND [ARGS...]  (tta-seg COMMAND --help)',
             '', 'commands:']
    lines += [f'  {name:<{width}}  {text}'
              for name, (_, text) in COMMANDS.items()]
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ('-h', '--help', 'help'):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f'tta-seg: unknown command {name!r}\n\n{usage()}',
              file=sys.stderr)
        return 2
    module = importlib.import_module(f'tta_seg.cli.{COMMANDS[name][0]}')
    sys.argv = [f'tta-seg {name}'] + rest  # argparse's prog and --verbose
    result = module.main(rest)
    return result if isinstance(result, int) else 0


if __name__ == '__main__':
    sys.exit(main())
