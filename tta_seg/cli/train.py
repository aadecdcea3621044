"""Train a source segmentor (or EcoTTA meta networks) with mmengine.

    python tools/train.py CONFIG [--work-dir DIR] [--export OUT.pth]
        [--export-dtype float32|float16] [--export-only SUBSTRING]
        [--cfg-options k=v ...] [--data-root [NAME=]PATH]
        [--resume] [--amp]
        [--launcher none|pytorch|slurm|mpi]

Multi-GPU as in mmseg: ``torchrun --nproc_per_node=8 tools/train.py CONFIG
--launcher pytorch`` (or srun with ``--launcher slurm``). After training the
final weights are exported as a plain state dict (``--export``, default
``<work_dir>/<config name>.pth``) that loads with ``weights_only=True``, and
the last validation metrics go to ``<work_dir>/train_summary.json``.
"""
import argparse
import json
import os
import os.path as osp
import pickle

import tta_seg  # noqa: E402,F401  (mmcv-lite shim before mmseg)
import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.dist import is_main_process  # noqa: E402
from mmengine.hooks import EMAHook  # noqa: E402
from mmengine.logging import print_log  # noqa: E402
from mmengine.model import is_model_wrapper  # noqa: E402
from mmengine.runner import Runner  # noqa: E402
from mmengine.runner.checkpoint import find_latest_checkpoint  # noqa: E402

from tta_seg.apis import load_config, prepare_data  # noqa: E402
from tta_seg.utils.checkpoint import (SUMMARY_SUFFIX,  # noqa: E402
                                      extract_state_dict)
from tta_seg.utils.io import (atomic_write, atomic_write_text,  # noqa: E402
                              save_torch)
from tta_seg.utils.io import file_sha256  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='train a tta_seg model')
    parser.add_argument('config')
    parser.add_argument('--work-dir')
    parser.add_argument('--data-root', action='append', metavar='[NAME=]PATH',
                        help='move a data root the config declares')
    parser.add_argument('--export', help='plain state-dict output path')
    parser.add_argument('--export-dtype', default='float32',
                        choices=['float32', 'float16'],
                        help='floating-point type of the exported weights '
                        '(float16 halves the file; they load into float32 '
                        'models unchanged but for rounding)')
    parser.add_argument('--export-only', metavar='SUBSTRING',
                        help='export only the weights whose key contains '
                        'this, e.g. "meta_blocks." for an EcoTTA warm-up')
    parser.add_argument('--resume', action='store_true',
                        help='resume from the latest checkpoint in work dir')
    parser.add_argument('--amp', action='store_true', help='mixed precision')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--launcher', default='none',
                        choices=['none', 'pytorch', 'slurm', 'mpi'])
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def build_cfg(args) -> Config:
    cfg = load_config(args.config, args.cfg_options, args.launcher,
                      args.work_dir, args.data_root)
    cfg.resume = args.resume
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    return cfg


def export(runner: Runner, path: str, metrics: dict,
           dtype: str = 'float32', only: str = None) -> None:
    """Save the trained weights as a plain state dict plus a summary.

    With an ``EMAHook`` the averaged weights are exported: they are the
    ones mmengine validates and writes into the checkpoints' state dict, so
    the summary's metrics describe the exported file. The summary carries
    the file's sha256, which ties it to exactly these weights."""
    model = runner.model.module if is_model_wrapper(runner.model) \
        else runner.model
    ema = [h for h in getattr(runner, 'hooks', [])
           if isinstance(h, EMAHook) and hasattr(h, 'ema_model')]
    if ema:
        model = ema[0].ema_model.module
        runner.logger.info('exporting the EMAHook\'s averaged weights')
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    state = {}
    for key, value in model.state_dict().items():
        if only is None or only in key:
            value = value.detach().cpu()
            state[key] = value.to(getattr(torch, dtype)) \
                if value.is_floating_point() else value
    if not state:
        raise KeyError(f'no weight key contains {only!r}')
    atomic_write(path, lambda tmp: save_torch(state, tmp))
    summary = dict(config=runner.cfg.filename, export=path,
                   sha256=file_sha256(path), iters=runner.iter, dtype=dtype,
                   val_metrics=metrics)
    if ema:
        summary['weights'] = 'EMAHook average'
    text = json.dumps(summary, indent=1, default=float)
    with open(osp.join(runner.work_dir, 'train_summary.json'), 'w') as f:
        f.write(text)
    # beside the file too (the shipped models' form): the loader checks
    # the file against this sha256, so a re-export never meets a stale one
    atomic_write_text(osp.splitext(path)[0] + SUMMARY_SUFFIX, text + '\n')
    runner.logger.info(f'exported {path}: {summary}')


def last_val_metrics(runner: Runner) -> dict:
    """Metrics of the latest validation (mmengine's RuntimeInfoHook keeps
    them in the message hub as ``val/<name>``)."""
    hub = runner.message_hub
    metrics = {k[4:]: float(v.current())
               for k, v in hub.log_scalars.items() if k.startswith('val/')
               and k not in ('val/time', 'val/data_time')}  # timer hook
    metrics.update({k[4:]: v for k, v in hub.runtime_info.items()
                    if k.startswith('val/')})
    return metrics


def resume_globals() -> list:
    """What mmengine's own training checkpoints hold beyond tensors: its
    message hub's ``HistoryBuffer`` with NumPy arrays and scalars. torch
    >= 2.6 loads with ``weights_only=True`` and refuses these, so
    ``--resume`` failed; they are allowed while resuming, and only they
    (the checkpoint is the one this run wrote into its work dir), or when
    ``load_from`` is a checkpoint that an earlier training wrote into the
    same work root (a later training stage; :func:`trusts_load_from`)."""
    import numpy as np
    from mmengine.logging.history_buffer import HistoryBuffer
    from numpy._core.multiarray import _reconstruct, scalar
    dtypes = [getattr(np.dtypes, name) for name in dir(np.dtypes)
              if name.endswith('DType')]
    return [HistoryBuffer, np.ndarray, np.dtype, _reconstruct, scalar,
            getattr, *dtypes]


def work_root(cfg) -> str:
    """The folder holding this training's work dir and its siblings."""
    return osp.dirname(osp.abspath(cfg.work_dir))


def trusts_load_from(cfg) -> bool:
    """Whether ``load_from`` lies in this training's work root, i.e. was
    written by an earlier training (stage) there: only then is it read
    with the allow-list of :func:`resume_globals`."""
    load_from = cfg.get('load_from')
    if not load_from:
        return False
    root = work_root(cfg)
    return osp.commonpath([osp.abspath(load_from), root]) == root


def resolve_resume(cfg) -> None:
    """``--resume`` continues from the latest checkpoint in the work dir.
    mmengine resumes from ``load_from`` whenever one is set, which for a
    later training stage (``load_from`` = the stage before) would restart
    the stage from its start: the work dir's latest checkpoint is made
    the one to resume from. With no checkpoint there yet the stage starts
    from the beginning, loading ``load_from`` as its initial weights."""
    if not cfg.resume:
        return
    latest = find_latest_checkpoint(cfg.work_dir) \
        if osp.isdir(cfg.work_dir) else None
    if latest:
        cfg.load_from = latest
    elif cfg.get('load_from'):
        print_log(f'--resume: no checkpoint in {cfg.work_dir} yet; '
                  f'starting from {cfg.load_from}', logger='current')
        cfg.resume = False


def start_averages_from_plain_state_dicts(runner: Runner) -> None:
    """Let an ``EMAHook`` start from a ``load_from`` that is a plain state
    dict (an export of this tool, a shipped model). mmengine's hook copies
    ``checkpoint['state_dict']`` into its average and fails with a bare
    ``KeyError: 'state_dict'`` on such a file, whose weights the model
    itself loads; here the hook sees the file's tensors as that state
    dict (:func:`extract_state_dict`, which names what it found if the file
    holds no tensors). Training checkpoints are passed on unchanged."""
    for hook in runner.hooks:
        if not isinstance(hook, EMAHook):
            continue
        original = hook.after_load_checkpoint

        def after_load_checkpoint(runner, checkpoint, original=original):
            if 'state_dict' not in checkpoint:
                checkpoint = dict(state_dict=extract_state_dict(checkpoint))
            original(runner, checkpoint)

        hook.after_load_checkpoint = after_load_checkpoint


def main(argv=None):
    args = parse_args(argv)
    cfg = build_cfg(args)
    prepare_data(cfg)
    resolve_resume(cfg)
    runner = Runner.from_cfg(cfg)
    start_averages_from_plain_state_dicts(runner)
    if cfg.resume or trusts_load_from(cfg):
        with torch.serialization.safe_globals(resume_globals()):
            runner.train()
    else:
        try:
            runner.train()
        except pickle.UnpicklingError as exc:
            if not cfg.get('load_from'):
                raise
            raise RuntimeError(
                f'load_from {cfg.load_from!r} holds more than tensors (a '
                'full training checkpoint?). Checkpoints of trainings in '
                f'this work root ({work_root(cfg)}) are read as such; '
                'export the weights of another as a plain state dict '
                '(tools/train.py --export) or train into its work '
                'root') from exc
    metrics = {}
    if runner.val_loop is not None:
        # the train loop validates after its last iteration: reuse that
        metrics = last_val_metrics(runner) or runner.val_loop.run()
    if is_main_process():
        name = osp.splitext(osp.basename(args.config))[0]
        export(runner, args.export or osp.join(cfg.work_dir, f'{name}.pth'),
               metrics, args.export_dtype, args.export_only)


if __name__ == '__main__':
    main()
