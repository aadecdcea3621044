"""ContinualTestLoop: the continual test-time adaptation protocol.

The loop owns the protocol, the adapter owns the algorithm. For each round
(1-based) and each domain in order, every batch goes through
``adapter.test_step`` (which adapts, label-blind), predictions are scored
against the labels the loop kept back, and one record per (round, domain)
is written to ``results.json`` at once (:class:`ResultsWriter`). The loop
does *not* run batches under ``no_grad``: the adapter decides.

Reset policies: ``'never'`` (continual, the CoTTA protocol), ``'domain'``
(reset to source before each domain) and ``'batch'`` (episodic).
Optional forgetting check: after each round, the held-out ``source`` split
is evaluated with ``adapter.predict_step`` (no adaptation).

Resumable: after every finished (round, domain) the adaptation state
(adapter ``state_dict`` incl. teacher/anchor, optimizer, RNG states, records)
is saved atomically to ``resume_state.pth``; with ``resume=True`` the loop
continues after the last finished step, so an interrupted run loses at most
the domain in progress and the resumed records equal an uninterrupted run.

Hooks observe: ``before_test_epoch``/``after_test_epoch(metrics)`` run per
(round, domain) with ``loop.current`` = ``(round, domain)``, and
``before_test_iter``/``after_test_iter`` per batch (outputs carry labels
and full metainfo again).
"""
import os
import os.path as osp
import random
import time
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import BaseLoop, Runner
from tqdm import tqdm

from tta_seg.evaluation.results import RESULTS_FILE, ResultsWriter
from tta_seg.registry import LOOPS

RESET_POLICIES = ('never', 'domain', 'batch')
RESUME_FILE = 'resume_state.pth'
SOURCE_DOMAIN = 'source'
DATA_HINT = ('See "Data preparation" in the README: the embedded benchmark '
             'is created by `python tools/make_synthetic.py` (or on first '
             'use by tools/test_tta.py); Cityscapes/ACDC must be downloaded '
             'by you and unpacked in their official layouts.')


def rng_state() -> dict:
    """All RNG states, in a form ``torch.load(weights_only=True)`` accepts."""
    np_state = np.random.get_state()
    state = dict(torch=torch.get_rng_state(), python=random.getstate(),
                 numpy=(np_state[0], torch.from_numpy(np_state[1].astype(
                     np.int64)), *np_state[2:]))
    if torch.cuda.is_available():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state['torch'])
    random.setstate(state['python'])
    name, keys, *rest = state['numpy']
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


def attach_labels(outputs: Sequence, batch: dict) -> Sequence:
    """Give predictions back the labels and full metainfo of their batch."""
    for out, orig in zip(outputs, batch['data_samples']):
        out.set_metainfo(orig.metainfo)
        if 'gt_sem_seg' in orig:
            out.gt_sem_seg = orig.gt_sem_seg
    return outputs


@LOOPS.register_module()
class ContinualTestLoop(BaseLoop):
    """Run a domain sequence for several rounds with an adapter.

    Args:
        runner (Runner): The mmengine runner.
        dataloader (dict): Dataloader template (batch size, workers,
            sampler); each domain's ``dataset`` is filled in.
        evaluator (dict | list): Evaluator config; its first metric should
            be ``StreamIoUMetric`` (per-class IoU, running mIoU).
        domains (list[dict]): ``dict(name=str, dataset=dict)`` in order.
        rounds (int): Repetitions of the domain sequence.
        reset (str): ``'never'``, ``'domain'`` or ``'batch'``.
        source (dict, optional): ``dict(name=..., dataset=...)`` held-out
            source split for the forgetting check after each round.
        resume (bool): Continue from ``resume_state.pth`` in the work dir.
        progress (bool, optional): Progress bars; None = only on a TTY.
    """

    def __init__(self, runner: Runner, dataloader: dict, evaluator,
                 domains: List[dict], rounds: int = 1, reset: str = 'never',
                 source: Optional[dict] = None, resume: bool = False,
                 progress: Optional[bool] = None) -> None:
        super().__init__(runner, dataloader=[])
        if reset not in RESET_POLICIES:
            raise ValueError(f'reset must be one of {RESET_POLICIES}, got '
                             f'{reset!r}')
        if not domains:
            raise ValueError('ContinualTestLoop needs at least one domain')
        names = [d['name'] for d in domains]
        if len(set(names)) != len(names) or SOURCE_DOMAIN in names:
            raise ValueError(f'domain names must be unique and not '
                             f'{SOURCE_DOMAIN!r}: {names}')
        self.dataloader_cfg = dict(dataloader)
        self.evaluator = runner.build_evaluator(evaluator)
        self.domains = domains
        self.rounds = rounds
        self.reset_policy = reset
        self.source = source
        self.resume = resume
        self.progress = progress
        self.current = None
        self._loaders: Dict[str, object] = {}

    @property
    def adapter(self):
        model = self.runner.model
        return model.module if is_model_wrapper(model) else model

    # ---------------------------------------------------------- building --
    def _loader(self, domain: dict):
        name = domain['name']
        if name not in self._loaders:
            cfg = dict(self.dataloader_cfg, dataset=domain['dataset'])
            try:
                loader = Runner.build_dataloader(cfg, seed=self.runner.seed)
            except FileNotFoundError as err:
                raise FileNotFoundError(
                    f'domain {name!r}: {err}\n{DATA_HINT}') from err
            if len(loader.dataset) == 0:
                root = domain['dataset'].get('data_root', '?')
                raise FileNotFoundError(
                    f'domain {name!r}: no image found under {root} '
                    f"({domain['dataset'].get('data_prefix', '')}).\n"
                    f'{DATA_HINT}')
            self._loaders[name] = loader
        self.dataloader = self._loaders[name]
        return self.dataloader

    def _metric(self):
        return self.evaluator.metrics[0]

    # --------------------------------------------------------------- run --
    def run(self) -> dict:
        adapter = self.adapter
        adapter.prepare()
        writer = ResultsWriter(
            self.runner.work_dir, type(adapter).__name__,
            getattr(self.runner.cfg, 'filename', None) or '',
            [d['name'] for d in self.domains], self.rounds)
        done = self._load_resume(adapter, writer) if self.resume else set()
        if not done:
            self._backup_old_results()
        self.runner.call_hook('before_test')
        for rnd in range(1, self.rounds + 1):
            for domain in self.domains:
                if (rnd, domain['name']) in done:
                    continue
                if self.reset_policy == 'domain':
                    adapter.reset()
                writer.add(self.run_domain(rnd, domain, adapt=True))
                done.add((rnd, domain['name']))
                self._save_resume(adapter, writer, done)
            if self.source and (rnd, SOURCE_DOMAIN) not in done:
                record = self.run_domain(rnd, self.source, adapt=False)
                writer.add(record, forgetting=True)
                done.add((rnd, SOURCE_DOMAIN))
                self._save_resume(adapter, writer, done)
        summary = writer.finalize()
        print_log('\n' + summary, logger='current')
        self.runner.call_hook('after_test')
        return dict(mean_mIoU=writer.mean_miou())

    def run_domain(self, rnd: int, domain: dict, adapt: bool) -> dict:
        """Run one (round, domain); return its results record."""
        name = domain['name'] if adapt else SOURCE_DOMAIN
        loader = self._loader(domain)
        self.evaluator.dataset_meta = loader.dataset.metainfo
        self.current = (rnd, name)
        adapter, metric = self.adapter, self._metric()
        counters, start = dict(adapter.counters), time.perf_counter()
        self.runner.call_hook('before_test_epoch')
        bar = tqdm(loader, desc=f'round {rnd}/{self.rounds} {name}',
                   disable=None if self.progress is None else
                   not self.progress, dynamic_ncols=True, leave=False)
        for idx, batch in enumerate(bar):
            self.runner.call_hook('before_test_iter', batch_idx=idx,
                                  data_batch=batch)
            if adapt and self.reset_policy == 'batch':
                adapter.reset()
            step = adapter.test_step if adapt else adapter.predict_step
            outputs = attach_labels(step(batch), batch)
            self.evaluator.process(data_samples=outputs, data_batch=batch)
            self.runner.call_hook('after_test_iter', batch_idx=idx,
                                  data_batch=batch, outputs=outputs)
            if hasattr(metric, 'running_miou'):
                bar.set_postfix(mIoU=f'{metric.running_miou():.1f}')
        metrics = self.evaluator.evaluate(len(loader.dataset))
        self.runner.call_hook('after_test_epoch', metrics=metrics)
        seconds = time.perf_counter() - start
        print_log(f'round {rnd} {name}: mIoU {metrics["mIoU"]:.2f} '
                  f'({len(loader.dataset)} images, {seconds:.1f} s)',
                  logger='current')
        increase = {key: int(value - counters.get(key, 0))
                    for key, value in adapter.counters.items()}
        record = ResultsWriter.make_record(
            rnd, name, metrics, len(loader.dataset), seconds,
            increase.pop('skipped_updates', 0))
        if adapt:  # the adapter's own counters, e.g. SAR's recoveries
            for key, value in increase.items():
                record.setdefault(key, value)
        return record

    # ------------------------------------------------------------ resume --
    def _resume_path(self) -> str:
        return osp.join(self.runner.work_dir, RESUME_FILE)

    def _backup_old_results(self) -> None:
        """Never overwrite the results of an earlier run: rename them."""
        old = osp.join(self.runner.work_dir, RESULTS_FILE)
        if osp.exists(old):
            stamp = time.strftime('%Y%m%d_%H%M%S')
            os.replace(old, old.replace('.json', f'.{stamp}.json'))
            print_log(f'kept the earlier {RESULTS_FILE} as '
                      f'results.{stamp}.json (use --resume to continue it)',
                      logger='current')

    def _save_resume(self, adapter, writer: ResultsWriter,
                     done: set) -> None:
        optim = adapter.optim_wrapper
        state = dict(adapter=adapter.state_dict(),
                     optimizer=optim.state_dict() if optim else None,
                     counters=dict(adapter.counters),
                     rng=rng_state(), records=writer.records,
                     forgetting=writer.forgetting,
                     done=sorted([list(d) for d in done]))
        tmp = self._resume_path() + '.tmp'
        torch.save(state, tmp)
        os.replace(tmp, self._resume_path())

    def _load_resume(self, adapter, writer: ResultsWriter) -> set:
        path = self._resume_path()
        if not osp.exists(path):
            print_log(f'--resume: no {path}, starting from the beginning',
                      logger='current')
            return set()
        state = torch.load(path, map_location='cpu', weights_only=True)
        adapter.load_state_dict(state['adapter'])
        if adapter.optim_wrapper is not None and state['optimizer']:
            adapter.optim_wrapper.load_state_dict(state['optimizer'])
        counters = state.get('counters')
        if counters is None:  # resume files written before the counters
            counters = dict(skipped_updates=state['skipped_updates'])
            if state.get('num_recoveries') is not None:
                counters['recoveries'] = state['num_recoveries']
        adapter.counters.update(counters)
        set_rng_state(state['rng'])
        writer.load_state(state)
        writer.write()
        done = {(int(r), str(d)) for r, d in state['done']}
        print_log(f'resumed from {path}: {len(done)} (round, domain) steps '
                  'already done', logger='current')
        return done
