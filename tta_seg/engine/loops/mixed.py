"""The mixed stream: one round shuffles the images of every domain into
one seeded stream (a new shuffle each round); each domain's mIoU is
reported by regrouping, and the whole stream's as domain ``'mixed'``.
A mixin of :class:`~.continual_test_loop.ContinualTestLoop`."""
import copy
import time
from typing import List

import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from mmengine.logging import print_log

from tta_seg.evaluation.results import ResultsWriter
from .stream import attach_labels

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


class MixedStreamMixin:
    """``run_mixed`` and its helpers, for the loop."""

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
