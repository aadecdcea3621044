"""Run continual test-time adaptation over a domain stream.

    python tools/test_tta.py CONFIG [--checkpoint SRC.pth] [--work-dir DIR]
        [--cfg-options k=v ...] [--seed 0] [--deterministic] [--resume]
        [--show-dir DIR] [--unsafe-checkpoint]

Writes ``results.json`` after every (round, domain) and ``summary.md``,
``summary.csv``, ``miou.png`` at the end into the work dir
(default ``work_dirs/<config name>``). Modelled on mmseg's tools/test.py.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import tta_seg  # noqa: E402,F401  (mmcv-lite shim before mmseg)
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from tta_seg.apis import (compose_model_cfg, load_config,  # noqa: E402
                          prepare_data)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='tta_seg: continual test-time adaptation')
    parser.add_argument('config', help='method config file')
    parser.add_argument('--checkpoint', help='source weights (default: the '
                        "config's shipped source_checkpoint)")
    parser.add_argument('--work-dir', help='output folder')
    parser.add_argument('--seed', type=int, default=None, help='random seed')
    parser.add_argument('--deterministic', action='store_true',
                        help='deterministic algorithms (slower)')
    parser.add_argument('--resume', action='store_true',
                        help='continue an interrupted run in the work dir')
    parser.add_argument('--show-dir', help='save colour predictions of the '
                        'first images of every (round, domain) here')
    parser.add_argument('--unsafe-checkpoint', action='store_true',
                        help='allow checkpoints that need full unpickling '
                        '(executes code in the file: trusted files only)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. '
                        'adapter.optim_wrapper.optimizer.lr=1e-5 '
                        'test_cfg.rounds=1')
    parser.add_argument('--launcher', default='none',
                        choices=['none', 'pytorch', 'slurm', 'mpi'])
    return parser.parse_args(argv)


def build_cfg(args) -> Config:
    cfg = load_config(args.config, args.cfg_options, args.launcher,
                      args.work_dir)
    randomness = dict(cfg.get('randomness', {}))
    if args.seed is not None:
        randomness['seed'] = args.seed
    if args.deterministic:
        randomness['deterministic'] = True
    cfg.randomness = randomness
    cfg.test_cfg.resume = args.resume
    if args.show_dir:
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
            dict(type='ShowPredictionsHook', out_dir=args.show_dir)]
    return compose_model_cfg(cfg, args.checkpoint, args.unsafe_checkpoint)


def main(argv=None):
    args = parse_args(argv)
    cfg = build_cfg(args)
    prepare_data(cfg)
    os.makedirs(cfg.work_dir, exist_ok=True)
    runner = Runner.from_cfg(cfg)
    return runner.test()


if __name__ == '__main__':
    main()
