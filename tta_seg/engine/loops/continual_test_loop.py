"""ContinualTestLoop: the continual test-time adaptation protocol.

The loop owns the protocol, the adapter owns the algorithm. For each round
(1-based) and each domain in order, every batch goes through
``adapter.test_step`` (which adapts, label-blind), predictions are scored
against the labels the loop kept back, and one record per (round, domain)
is written to ``results.json`` at once (:class:`ResultsWriter`). The loop
does *not* run batches under ``no_grad``: the adapter decides. Reset
policies: ``'never'`` (continual, the CoTTA protocol), ``'domain'`` and
``'batch'`` (episodic). Optional forgetting check: after each round the
held-out ``source`` split is evaluated without adapting.

The parts live beside it: domain orders and the time budget in
:mod:`.stream`, the mixed stream in :mod:`.mixed`, the data checks run
before anything adapts in :mod:`.data_checks`, the resume state and its
identity check in :mod:`tta_seg.engine.resume`. One run per work dir: the
loop holds the work-dir lock (:mod:`tta_seg.utils.lock`).

Hooks observe: ``before_test_epoch``/``after_test_epoch(metrics)`` run per
(round, domain) with ``loop.current`` = ``(round, domain)``, and
``before_test_iter``/``after_test_iter`` per batch (outputs carry labels
and full metainfo again).
"""
import copy
import time
from typing import Dict, List, Optional

from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import BaseLoop, Runner
from tqdm import tqdm

from tta_seg.engine.identity import fingerprint, run_identity
from tta_seg.engine.resume import (RESUME_FILE, ResumeMismatchError,
                                   backup_old_results, load_resume,
                                   save_resume)
from tta_seg.evaluation.results import ResultsWriter
from tta_seg.registry import LOOPS
from tta_seg.utils.io import clean_stale_tmp
from tta_seg.utils.lock import work_dir_lock
from .data_checks import DATA_SECTION, build_checked_loader
from .mixed import MIXED, MixedStreamMixin
from .stream import (SOURCE_DOMAIN, Order, TimeBudget, attach_labels,
                     check_stream, describe_stream, round_orders, step)

__all__ = ['ContinualTestLoop', 'DATA_SECTION', 'RESUME_FILE',
           'ResumeMismatchError', 'SOURCE_DOMAIN', 'attach_labels']


@LOOPS.register_module()
class ContinualTestLoop(MixedStreamMixin, BaseLoop):
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
        check_forgetting (bool): Run the forgetting check when ``source``
            is given (configs keep the split defined and switch it here).
        order (str | list[list[str]]): ``'fixed'``, ``'random'`` or
            explicit per-round domain orders (:func:`.stream.round_orders`).
        mixed (bool): Shuffle the images of all domains into one stream per
            round (seeded, a new shuffle each round); records still report
            each domain's mIoU by regrouping, and ``results.json``'s
            ``mixed`` list the whole stream's. Not with ``reset='domain'``
            or an ``order``.
        time_budget (dict, optional): ``dict(relative_cost=k | 'measure',
            measure_frames=5, skip_prediction='forward')``: the online
            protocol of :class:`.stream.TimeBudget`; None = every frame is
            adapted.
        resume (bool): Continue from ``resume_state.pth`` in the work dir.
        progress (bool, optional): Progress bars; None = only on a TTY.
    """

    def __init__(self, runner: Runner, dataloader: dict, evaluator,
                 domains: List[dict], rounds: int = 1, reset: str = 'never',
                 source: Optional[dict] = None, check_forgetting: bool = True,
                 order: Order = 'fixed', mixed: bool = False,
                 time_budget: Optional[dict] = None, resume: bool = False,
                 progress: Optional[bool] = None) -> None:
        super().__init__(runner, dataloader=[])
        names = check_stream(domains, reset, mixed, order)
        self.dataloader_cfg = dict(dataloader)
        self.evaluator_cfg = copy.deepcopy(evaluator)
        self.evaluator = runner.build_evaluator(evaluator)
        self.mixed = mixed
        self.domains = domains
        self.rounds = rounds
        self.reset_policy = reset
        self.source = source if check_forgetting else None
        self.orders = round_orders(names, rounds, order, runner.seed)
        self.order = order if isinstance(order, str) else 'explicit'
        if time_budget and dataloader.get('batch_size', 1) != 1:
            raise ValueError('the time-budgeted protocol delivers one frame '
                             'at a time: set test_dataloader.batch_size=1')
        self.budget = TimeBudget(**dict(
            time_budget, config=getattr(runner.cfg, 'filename', None))) \
            if time_budget else None
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
            self._loaders[name] = build_checked_loader(
                domain, self.dataloader_cfg, self.runner.seed)
        self.dataloader = self._loaders[name]
        return self.dataloader

    def check_data(self) -> None:
        """Build and check every domain and the source split up front."""
        for domain in self.domains + ([self.source] if self.source else []):
            self._loader(domain)

    def _bar(self, loader, rnd: int, name: str):
        return tqdm(loader, desc=f'round {rnd}/{self.rounds} {name}',
                    disable=None if self.progress is None else
                    not self.progress, dynamic_ncols=True, leave=False)

    def _metric(self):
        return self.evaluator.metrics[0]

    # --------------------------------------------------------------- run --
    def run(self) -> dict:
        """Run the stream, holding the work dir (one run at a time)."""
        with work_dir_lock(self.runner.work_dir):
            return self._run()

    def _run(self) -> dict:
        adapter = self.adapter
        clean_stale_tmp(self.runner.work_dir)
        self.identity = run_identity(self.runner.cfg)
        self.check_data()
        adapter.prepare()
        cfg = self.runner.cfg
        writer = ResultsWriter(
            self.runner.work_dir, type(adapter).__name__,
            getattr(cfg, 'filename', None) or '',
            [d['name'] for d in self.domains], self.rounds,
            extra=dict(fingerprint=fingerprint(self.identity),
                       overrides=dict(cfg.get('overrides') or {}),
                       seed=self.runner.seed, stream=self.stream_info(),
                       identity=self.identity))
        done = self._load_resume(writer) if self.resume else None
        if not done:
            done = set()
            backup_old_results(self.runner.work_dir)
        self.runner.call_hook('before_test')
        by_name = {d['name']: d for d in self.domains}
        for rnd in range(1, self.rounds + 1):
            if self.mixed and (rnd, MIXED) not in done:
                for record in self.run_mixed(rnd):
                    writer.extra['stream'] = self.stream_info()
                    writer.add(record, mixed=record['domain'] == MIXED)
                done.update((rnd, name) for name in list(by_name) + [MIXED])
                self._save_resume(writer, done)
            for position, name in enumerate(self.orders[rnd - 1], 1):
                if (rnd, name) in done:
                    continue
                if self.reset_policy == 'domain':
                    adapter.reset()
                record = self.run_domain(rnd, by_name[name], adapt=True)
                writer.extra['stream'] = self.stream_info()
                writer.add(dict(record, position=position))
                done.add((rnd, name))
                self._save_resume(writer, done)
            if self.source and (rnd, SOURCE_DOMAIN) not in done:
                record = self.run_domain(rnd, self.source, adapt=False)
                writer.add(record, forgetting=True)
                done.add((rnd, SOURCE_DOMAIN))
                self._save_resume(writer, done)
        summary = writer.finalize()
        print_log('\n' + summary, logger='current')
        self.runner.call_hook('after_test')
        return dict(mean_mIoU=writer.mean_miou())

    def stream_info(self) -> dict:
        """What defines the stream, for results.json and reports."""
        return describe_stream(MIXED if self.mixed else self.order,
                               self.orders, self.reset_policy, self.budget,
                               self.domains)

    def run_domain(self, rnd: int, domain: dict, adapt: bool) -> dict:
        """Run one (round, domain); return its results record."""
        name = domain['name'] if adapt else SOURCE_DOMAIN
        loader = self._loader(domain)
        self.evaluator.dataset_meta = loader.dataset.metainfo
        self.current = (rnd, name)
        adapter, metric = self.adapter, self._metric()
        counters, start = dict(adapter.counters), time.perf_counter()
        adapted = 0
        self.runner.call_hook('before_test_epoch')
        bar = self._bar(loader, rnd, name)
        for idx, batch in enumerate(bar):
            self.runner.call_hook('before_test_iter', batch_idx=idx,
                                  data_batch=batch)
            if adapt and self.reset_policy == 'batch':
                adapter.reset()
            now = adapt and (self.budget is None or self.budget.adapt_now())
            adapted += int(now)
            outputs = attach_labels(
                self._step(batch, now, skipped=adapt and not now), batch)
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
        increase = {key: value - counters.get(key, 0)
                    for key, value in adapter.counters.items()}
        record = ResultsWriter.make_record(rnd, name, metrics,
                                           len(loader.dataset), seconds,
                                           increase)
        if adapt and self.budget is not None:
            record.update(frames=len(loader.dataset), adapted_frames=adapted)
        return record

    def _step(self, batch: dict, adapt: bool, skipped: bool = False):
        return step(self.adapter, batch, adapt, skipped, self.budget)

    # ------------------------------------------------------------ resume --
    def _save_resume(self, writer: ResultsWriter, done: set) -> None:
        save_resume(self.runner.work_dir, self.adapter, writer, done,
                    self.identity, self.budget)

    def _load_resume(self, writer: ResultsWriter) -> Optional[set]:
        done = load_resume(self.runner.work_dir, self.adapter, writer,
                           self.identity, self.budget)
        if done is not None:
            writer.extra['stream'] = self.stream_info()
            writer.write()
        return done
