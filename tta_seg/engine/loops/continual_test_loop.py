"""ContinualTestLoop: the continual test-time adaptation protocol.

The loop owns the protocol, the adapter owns the algorithm. For each round
(1-based) and each domain in order, every batch goes through
``adapter.test_step`` (which adapts, label-blind), predictions are scored
against the labels the loop kept back, and one record per (round, domain)
is written to ``results.json`` at once (:class:`ResultsWriter`). The loop
does *not* run batches under ``no_grad``: the adapter decides.

Reset policies: ``'never'`` (continual, the CoTTA protocol), ``'domain'``
(reset to source before each domain) and ``'batch'`` (episodic).
Domain orders (``order``: ``'fixed'``, ``'random'`` per round from the
seed, or explicit per-round lists) and the time-budgeted online protocol
(``time_budget``: a method costing k Source forwards adapts on every
ceil(k)-th frame, the others are predicted without adapting) are in
:mod:`.stream`; ``results.json`` records the orders used and the stream's
description, and each record its position in the round (and, under a
time budget, its frames and adapted frames).
Optional forgetting check: after each round, the held-out ``source`` split
is evaluated with ``adapter.predict_step`` (no adaptation).

Data are checked before anything adapts: every domain's dataset and the
source split are built, must be non-empty, and their first image/label
pair must load (and pass the label checks), so a missing snow folder or
Cityscapes split fails in seconds, naming the domain, the path and the
expected layout, not after hours of adaptation.

Resumable: after every finished (round, domain) the adaptation state
(adapter ``state_dict`` incl. teacher/anchor, optimizer, RNG states, records)
is saved atomically to ``resume_state.pth``; with ``resume=True`` the loop
continues after the last finished step, so an interrupted run loses at most
the domain in progress and the resumed records equal an uninterrupted run.
The state carries the run's identity (:mod:`tta_seg.utils.run_identity`:
adapter, model, stream, checkpoints, seed); resuming with a different one
is refused, naming what differs.

One run per work dir: the loop holds an exclusive lock on it
(:mod:`tta_seg.utils.lock`), and a second run there is refused at once,
naming the holder's pid, before it reads or writes anything.

Hooks observe: ``before_test_epoch``/``after_test_epoch(metrics)`` run per
(round, domain) with ``loop.current`` = ``(round, domain)``, and
``before_test_iter``/``after_test_iter`` per batch (outputs carry labels
and full metainfo again).
"""
import copy
import json
import os
import os.path as osp
import random
import time
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import BaseLoop, Runner
from tqdm import tqdm

from tta_seg.adapters.base import strip_labels
from tta_seg.evaluation.results import RESULTS_FILE, ResultsWriter
from tta_seg.registry import DATASETS, LOOPS
from tta_seg.utils.checkpoint import load_state_file
from tta_seg.utils.io import atomic_write, clean_stale_tmp, save_torch
from tta_seg.utils.lock import work_dir_lock
from tta_seg.utils.run_identity import (fingerprint, identity_diff,
                                        run_identity)
from .stream import Order, TimeBudget, round_orders, timed

RESET_POLICIES = ('never', 'domain', 'batch')
RESUME_FILE = 'resume_state.pth'
SOURCE_DOMAIN = 'source'
#: README section that explains the data layouts (tested to exist).
DATA_SECTION = 'Data preparation'
DATA_HINT = (f'See "{DATA_SECTION}" in the README: the embedded benchmark '
             'is created by `python tools/make_synthetic.py` (or on first '
             'use by tools/test_tta.py); Cityscapes/ACDC must be downloaded '
             'by you and unpacked in their official layouts; point a '
             'config at them with --data-root NAME=PATH.')
CITYSCAPES_LAYOUT = ('Expected the Cityscapes layout '
                     '<data_root>/leftImg8bit/<split>/<city>/'
                     '*_leftImg8bit.png and <data_root>/gtFine/<split>/'
                     '<city>/*_gtFine_labelTrainIds.png (made by mmseg\'s '
                     'tools/dataset_converters/cityscapes.py).')


MIXED = 'mixed'
#: Keeps the mixed stream's shuffles apart from the random domain orders.
MIXED_SALT = 7


class MixedView(torch.utils.data.Dataset):
    """Samples of several datasets in a given order, each tagged with its
    domain (``stream_domain`` metainfo; adapters never see it)."""

    def __init__(self, datasets, names, pairs) -> None:
        self.datasets, self.names, self.pairs = datasets, names, pairs

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, pos: int) -> dict:
        d, i = self.pairs[pos]
        sample = self.datasets[d][i]
        sample['data_samples'].set_metainfo(
            dict(stream_domain=self.names[d]))
        return sample


class ResumeMismatchError(RuntimeError):
    """``--resume`` in a work dir left by a run with another identity."""


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


def shift_steps(dataset: dict) -> List[dict]:
    """The pipeline steps that make a domain's shift: those with a
    ``severity`` or ``schedule`` (rendered weather, corruptions)."""
    return [dict(step) for step in dataset.get('pipeline') or []
            if isinstance(step, dict) and ('severity' in step
                                           or 'schedule' in step)]


def _full_init(dataset, where: str) -> None:
    """``dataset.full_init()``; mmengine fails on an empty folder with an
    anonymous numpy error, so that case is listed again and named (only on
    failure: the folder is listed once when it holds data)."""
    try:
        dataset.full_init()
    except ValueError:
        if hasattr(dataset, 'load_data_list') and \
                not dataset.load_data_list():
            raise FileNotFoundError(f'no image found under {where}')
        raise


def _load_first(dataset) -> None:
    """Read and check the first image and label, naming both on failure."""
    try:
        dataset[0]
    except (OSError, ValueError) as err:
        info = dataset.get_data_info(0)
        files = ', '.join(f'{k} {info[k]}' for k in ('img_path',
                                                      'seg_map_path')
                          if info.get(k))
        raise type(err)(f'first sample ({files}): {err}') from err


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
        if reset not in RESET_POLICIES:
            raise ValueError(f'reset must be one of {RESET_POLICIES}, got '
                             f'{reset!r}')
        if not domains:
            raise ValueError('ContinualTestLoop needs at least one domain')
        names = [d['name'] for d in domains]
        if len(set(names)) != len(names) or SOURCE_DOMAIN in names:
            raise ValueError(f'domain names must be unique and not '
                             f'{SOURCE_DOMAIN!r}: {names}')
        if mixed and (reset == 'domain' or order != 'fixed'):
            raise ValueError("a mixed stream has no domain boundaries: use "
                             "reset='never' or 'batch' and order='fixed'")
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
            self._loaders[name] = self._build_checked(domain)
        self.dataloader = self._loaders[name]
        return self.dataloader

    def _build_checked(self, domain: dict):
        """Build a domain's loader; it must hold images and its first
        image/label pair must load."""
        name, dataset = domain['name'], domain['dataset']
        layout = CITYSCAPES_LAYOUT if 'Cityscapes' in str(
            dataset.get('type')) else ''
        where = f"{dataset.get('data_root', '?')} " \
            f"({dataset.get('data_prefix', '')})"
        try:
            built = DATASETS.build(dict(dataset, lazy_init=True))
            _full_init(built, where)
            if len(built) == 0:
                raise FileNotFoundError(f'no image found under {where}')
            _load_first(built)
            loader = Runner.build_dataloader(
                dict(self.dataloader_cfg, dataset=built),
                seed=self.runner.seed)
        except (OSError, ValueError) as err:
            text = f'domain {name!r} ({where}): {err}\n{layout} {DATA_HINT}'
            kind = FileNotFoundError if isinstance(err, OSError) else \
                ValueError
            raise kind(text.replace('\n ', '\n')) from err
        return loader

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
        done = self._load_resume(adapter, writer) if self.resume else set()
        if not done:
            self._backup_old_results()
        self.runner.call_hook('before_test')
        by_name = {d['name']: d for d in self.domains}
        for rnd in range(1, self.rounds + 1):
            if self.mixed and (rnd, MIXED) not in done:
                for record in self.run_mixed(rnd):
                    writer.extra['stream'] = self.stream_info()
                    writer.add(record, mixed=record['domain'] == MIXED)
                done.update((rnd, name) for name in list(by_name) + [MIXED])
                self._save_resume(adapter, writer, done)
            for position, name in enumerate(self.orders[rnd - 1], 1):
                if (rnd, name) in done:
                    continue
                if self.reset_policy == 'domain':
                    adapter.reset()
                record = self.run_domain(rnd, by_name[name], adapt=True)
                writer.extra['stream'] = self.stream_info()
                writer.add(dict(record, position=position))
                done.add((rnd, name))
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

    def stream_info(self) -> dict:
        """What defines the stream, for results.json and reports."""
        info = dict(order=MIXED if self.mixed else self.order,
                    orders=self.orders, reset=self.reset_policy,
                    protocol='every frame')
        if self.budget is not None:
            info.update(protocol='time budget',
                        relative_cost=self.budget.relative_cost,
                        adapt_every=self.budget.k,
                        skip_prediction=self.budget.skip_prediction)
        shifts = {d['name']: shift_steps(d['dataset']) for d in self.domains}
        if any(shifts.values()):
            info['shifts'] = shifts
        return info

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

    def run_mixed(self, rnd: int) -> List[dict]:
        """Run one round of the mixed stream; return one record per domain
        (regrouped) and the whole stream's record (domain ``'mixed'``)."""
        names = [d['name'] for d in self.domains]
        datasets = [self._loader(d).dataset for d in self.domains]
        loader = self._mixed_loader(datasets, names, rnd)
        evaluators = {n: self.runner.build_evaluator(
            copy.deepcopy(self.evaluator_cfg)) for n in names}
        for name, dataset in zip(names, datasets):
            evaluators[name].dataset_meta = dataset.metainfo
        self.evaluator.dataset_meta = datasets[0].metainfo
        stats = {n: dict(seconds=0.0, frames=0, adapted=0, counters={})
                 for n in names}
        self.current, start = (rnd, MIXED), time.perf_counter()
        counters_at_start = dict(self.adapter.counters)
        self.runner.call_hook('before_test_epoch')
        for idx, batch in enumerate(self._bar(loader, rnd, MIXED)):
            self._mixed_step(idx, batch, evaluators, stats)
        records = [self._mixed_record(rnd, n, evaluators[n], stats[n])
                   for n in names]
        metrics = self.evaluator.evaluate(len(loader.dataset))
        self.runner.call_hook('after_test_epoch', metrics=metrics)
        increase = {k: v - counters_at_start.get(k, 0)
                    for k, v in self.adapter.counters.items()}
        seconds = time.perf_counter() - start
        print_log(f'round {rnd} mixed stream: mIoU {metrics["mIoU"]:.2f} '
                  f'({len(loader.dataset)} images, {seconds:.1f} s)',
                  logger='current')
        return records + [ResultsWriter.make_record(
            rnd, MIXED, metrics, len(loader.dataset), seconds, increase)]

    def _mixed_loader(self, datasets, names, rnd: int):
        """All images of all domains in one seeded shuffle."""
        pairs = [(d, i) for d, ds in enumerate(datasets)
                 for i in range(len(ds))]
        rng = np.random.default_rng([self.runner.seed or 0, rnd, MIXED_SALT])
        view = MixedView(datasets, names,
                         [pairs[i] for i in rng.permutation(len(pairs))])
        cfg = self.dataloader_cfg
        return torch.utils.data.DataLoader(
            view, batch_size=cfg.get('batch_size', 1), shuffle=False,
            num_workers=cfg.get('num_workers', 0), collate_fn=pseudo_collate)

    def _mixed_step(self, idx: int, batch: dict, evaluators: dict,
                    stats: dict) -> None:
        """One batch of the mixed stream, scored per domain and overall.
        Its time is shared by its images; counter increases go to its
        first image's domain (exact at batch 1, the protocol's size)."""
        adapter = self.adapter
        self.runner.call_hook('before_test_iter', batch_idx=idx,
                              data_batch=batch)
        if self.reset_policy == 'batch':
            adapter.reset()
        now = self.budget is None or self.budget.adapt_now()
        before, start = dict(adapter.counters), time.perf_counter()
        outputs = attach_labels(self._step(batch, now, skipped=not now),
                                batch)
        share = (time.perf_counter() - start) / len(outputs)
        domains = [o.metainfo['stream_domain'] for o in outputs]
        for name in dict.fromkeys(domains):
            mine = [o for o, d in zip(outputs, domains) if d == name]
            evaluators[name].process(data_samples=mine, data_batch=batch)
            stat = stats[name]
            stat['seconds'] += share * len(mine)
            stat['frames'] += len(mine)
            stat['adapted'] += len(mine) * int(now)
        first = stats[domains[0]]['counters']
        for key, value in adapter.counters.items():
            first[key] = first.get(key, 0) + value - before.get(key, 0)
        self.evaluator.process(data_samples=outputs, data_batch=batch)
        self.runner.call_hook('after_test_iter', batch_idx=idx,
                              data_batch=batch, outputs=outputs)

    def _mixed_record(self, rnd: int, name: str, evaluator,
                      stat: dict) -> dict:
        metrics = evaluator.evaluate(stat['frames'])
        counters = {k: stat['counters'].get(k, 0)
                    for k in self.adapter.counters}
        record = ResultsWriter.make_record(rnd, name, metrics, stat['frames'],
                                           stat['seconds'], counters)
        if self.budget is not None:
            record.update(frames=stat['frames'],
                          adapted_frames=stat['adapted'])
        return record

    def _step(self, batch: dict, adapt: bool, skipped: bool = False):
        """Adapt and predict, or only predict (``skipped``: a frame the
        time budget does not let the adapter adapt on); while a time
        budget is being measured, also time a Source forward of the same
        batch."""
        adapter = self.adapter
        if not adapt:
            plain = skipped and self.budget.skip_prediction == 'forward'
            return adapter.predict_step(batch, plain=plain)
        if self.budget is None or not self.budget.measuring:
            return adapter.test_step(batch)
        _, source_s = timed(self._source_forward, batch)
        outputs, step_s = timed(adapter.test_step, batch)
        self.budget.add_measurement(step_s, source_s)
        return outputs

    def _source_forward(self, batch: dict) -> None:
        """One plain forward of the segmentor (the stream's frame rate)."""
        seg = self.adapter.segmentor
        with torch.no_grad():
            data = seg.data_preprocessor(
                dict(inputs=batch['inputs'],
                     data_samples=strip_labels(batch['data_samples'])),
                False)
            seg.inference(data['inputs'],
                          [s.metainfo for s in data['data_samples']])

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
                     forgetting=writer.forgetting, mixed=writer.mixed,
                     done=sorted([list(d) for d in done]),
                     budget=self.budget.state_dict() if self.budget else None,
                     identity=json.dumps(self.identity, sort_keys=True))
        atomic_write(self._resume_path(), lambda tmp: save_torch(state, tmp))

    def _load_resume(self, adapter, writer: ResultsWriter) -> set:
        path = self._resume_path()
        if not osp.exists(path):
            print_log(f'--resume: no {path}, starting from the beginning',
                      logger='current')
            return set()
        state = load_state_file(path, what='resume state')
        self._check_identity(path, state)
        adapter.load_state_dict(state['adapter'])
        if adapter.optim_wrapper is not None and state['optimizer']:
            adapter.optim_wrapper.load_state_dict(state['optimizer'])
        adapter.counters.update(state['counters'])
        if self.budget is not None:
            self.budget.load_state_dict(state['budget'])
            writer.extra['stream'] = self.stream_info()
        set_rng_state(state['rng'])
        writer.load_state(state)
        writer.write()
        done = {(int(r), str(d)) for r, d in state['done']}
        print_log(f'resumed from {path}: {len(done)} (round, domain) steps '
                  'already done', logger='current')
        return done

    def _check_identity(self, path: str, state: dict) -> None:
        """Refuse a resume state written by a run with another identity."""
        if 'identity' not in state:
            raise ResumeMismatchError(
                f'{path} was written by an older tta_seg that did not '
                'record what defines its run, so resuming it could mix two '
                'runs: start again without --resume (the earlier '
                f'{RESULTS_FILE} is kept) or use another --work-dir.')
        old = json.loads(state['identity'])
        if old != self.identity:
            raise ResumeMismatchError(
                f'--resume: {path} belongs to another run; it differs in\n  '
                + '\n  '.join(identity_diff(old, self.identity)) +
                '\nResume with the same config, checkpoint, overrides and '
                'seed, or start anew in another --work-dir (or here without '
                f'--resume: the earlier {RESULTS_FILE} is kept).')
