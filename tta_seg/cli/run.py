"""Run continual test-time adaptation over a domain stream.

    python tools/test_tta.py CONFIG [--checkpoint SRC.pth] [--work-dir DIR]
        [--data-root [NAME=]PATH ...] [--cfg-options k=v ...] [--seed 0]
        [--deterministic] [--resume] [--show-dir DIR] [--track BACKEND ...]
        [--unsafe-checkpoint] [--verbose]

Writes ``results.json`` after every (round, domain) and ``summary.md``,
``summary.csv``, ``miou.png`` at the end into the work dir
(default ``work_dirs/<config name>``). Modelled on mmseg's tools/test.py.
"""
import argparse
import sys
import warnings

if '--verbose' not in sys.argv:
    # known, harmless notices of the pinned stack (mmengine's pkg_resources
    # import, mmseg's loss builder); --verbose shows them
    for text in ('pkg_resources is deprecated', '``build_loss`` would be',
                 'Default ``avg_non_ignore`` is False'):
        warnings.filterwarnings('ignore', message=text)

import tta_seg  # noqa: E402,F401  (mmcv-lite shim before mmseg)
from mmengine.config import Config, DictAction  # noqa: E402

from tta_seg.apis.run import build_run_cfg, run_tta  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='tta_seg: continual test-time adaptation')
    parser.add_argument('config', help='method config file')
    parser.add_argument('--checkpoint', help='source weights (default: the '
                        "config's shipped source_checkpoint)")
    parser.add_argument('--work-dir', help='output folder')
    parser.add_argument('--data-root', action='append', metavar='[NAME=]PATH',
                        help="move a data root the config declares (its "
                        "data_roots), e.g. --data-root acdc=/data/ACDC "
                        "--data-root cityscapes=/data/cityscapes; a bare "
                        "PATH for a config with one root (the embedded "
                        "benchmark); relative roots live in $TTA_SEG_DATA, "
                        "else <repository>/data")
    parser.add_argument('--seed', type=int, default=None, help='random seed')
    parser.add_argument('--deterministic', action='store_true',
                        help='deterministic algorithms (slower)')
    parser.add_argument('--resume', action='store_true',
                        help='continue an interrupted run in the work dir')
    parser.add_argument('--show-dir', help='save colour predictions of the '
                        'first images of every (round, domain) here')
    parser.add_argument('--track', nargs='+', metavar='BACKEND',
                        choices=['local', 'tensorboard', 'wandb', 'mlflow'],
                        help='send per-step losses and counters and '
                        'per-domain mIoU to these visualizer backends '
                        'while the run goes (off by default)')
    parser.add_argument('--unsafe-checkpoint', action='store_true',
                        help='allow checkpoints that need full unpickling '
                        '(executes code in the file: trusted files only)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. '
                        'adapter.optim_wrapper.optimizer.lr=1e-5 '
                        'test_cfg.rounds=1')
    parser.add_argument('--launcher', default='none',
                        choices=['none', 'pytorch', 'slurm', 'mpi'])
    parser.add_argument('--verbose', action='store_true',
                        help="also print mmengine's environment and config "
                        'dump (the config is saved in the work dir anyway)')
    return parser.parse_args(argv)


def build_cfg(args) -> Config:
    return build_run_cfg(
        args.config, args.work_dir, args.cfg_options, args.seed, args.resume,
        args.data_root, args.checkpoint, args.unsafe_checkpoint,
        args.deterministic, args.launcher, args.show_dir, args.track)


def main(argv=None):
    args = parse_args(argv)
    return run_tta(build_cfg(args), args.verbose)


if __name__ == '__main__':
    main()
