"""What a stream delivers, and when: domain orders and the time budget.

* :func:`round_orders`: the domain order of every round. ``'fixed'`` (the
  config's order each round), ``'random'`` (a new permutation each round,
  drawn from the run's seed by its own generator, so a resumed run draws
  the same orders and the global RNG streams are untouched; a round never
  repeats the previous round's order when there are two or more domains),
  or an explicit list of per-round orders.
* :class:`TimeBudget`: the time-constrained online protocol of Alfarra et
  al., "Evaluation of Test-Time Adaptation Under Computational Time
  Constraints", ICML 2024. Frames arrive at the rate of Source inference;
  a method whose step costs ``k`` Source forwards adapts on one frame, and
  the ``ceil(k) - 1`` frames that arrive while it is busy are predicted by
  its current model without adapting, so ``n`` frames get exactly
  ``ceil(n / ceil(k))`` adaptation steps.

Deviations from Alfarra et al., stated:

* ``k`` is rounded up to an integer, as the paper's relative adaptation
  speed; frames are counted along the whole stream (a busy period carries
  across domain boundaries), batch = one frame.
* The frames that arrive while an update runs are predicted by the model
  *after* that update (the simulation applies each update at once); in
  the paper they see the model from before it. This favours slow methods
  by at most one update.
* Skipped frames get one forward of the adapter's current model
  (``skip_prediction='forward'``, the default, as the paper: "the most
  recent adapted model"; :meth:`BaseAdapter.forward_logits`: the teacher
  for mean teachers, without CoTTA's/SVDP's 14 views and ViDA's
  uncertainty views, at Source cost). ``skip_prediction='adapter'`` gives
  them the adapter's full prediction without adapting (CoTTA's gated
  14-view teacher), whose own cost the protocol then does not charge.
* ``relative_cost`` may name a ``tools/benchmark.py`` JSON: the run takes
  the interleaved time ratio of the row measured with its own config file
  (reproducible, and the same figure as the speed tables of
  ``docs/benchmarks.md``); a
  ratio below 1 there (a method as fast as Source, within the timing
  noise) counts as 1.
* ``relative_cost='measure'`` times the first ``measure_frames`` steps of
  the run against a Source forward of the same frames (those frames are
  all adapted) and fixes ``k`` from the median ratio; the run is then not
  reproducible in its schedule. A fixed ``relative_cost`` (e.g. from
  ``tools/benchmark.py``'s JSON) is.
"""
import json
import math
import os.path as osp
import time
from statistics import median
from typing import List, Optional, Sequence, Union

import numpy as np
import torch

from tta_seg.adapters.base import strip_labels

ORDERS = ('fixed', 'random')
RESET_POLICIES = ('never', 'domain', 'batch')
SOURCE_DOMAIN = 'source'
SKIP_PREDICTIONS = ('forward', 'adapter')
Order = Union[str, Sequence[Sequence[str]]]


def round_orders(names: Sequence[str], rounds: int, order: Order,
                 seed: Optional[int]) -> List[List[str]]:
    """The domain order of each round (see module docstring).

    Raises:
        ValueError: Unknown order, wrong number of rounds, or a round that
            names an unknown domain or one domain twice.
    """
    names = list(names)
    if order == 'fixed':
        return [list(names) for _ in range(rounds)]
    if order == 'random':
        return _random_orders(names, rounds, seed)
    if isinstance(order, str) or not isinstance(order, Sequence):
        raise ValueError(f'order must be one of {ORDERS} or a list of '
                         f'per-round domain lists, got {order!r}')
    if len(order) != rounds:
        raise ValueError(f'order lists {len(order)} rounds, the stream has '
                         f'{rounds}')
    for idx, one in enumerate(order, 1):
        unknown = [n for n in one if n not in names]
        if unknown or len(set(one)) != len(one) or not one:
            raise ValueError(f'order of round {idx} ({list(one)}) must name '
                             f'each of {names} at most once')
    return [list(one) for one in order]


def _random_orders(names: List[str], rounds: int,
                   seed: Optional[int]) -> List[List[str]]:
    out: List[List[str]] = []
    for rnd in range(1, rounds + 1):
        rng = np.random.default_rng([seed or 0, rnd])
        perm = [names[i] for i in rng.permutation(len(names))]
        while len(names) > 1 and out and perm == out[-1]:
            perm = [names[i] for i in rng.permutation(len(names))]
        out.append(perm)
    return out


class TimeBudget:
    """Which frames an adapter may adapt on under a time budget.

    Args:
        relative_cost (float | str | list[str]): Cost of one adaptation
            step in Source forwards (>= 1), a ``tools/benchmark.py`` JSON
            file (or a list of them: the first with the config's row), or
            ``'measure'``.
        measure_frames (int): Frames timed when measuring.
        skip_prediction (str): How frames that arrive while the adapter
            is busy are predicted: ``'forward'`` (one forward of its current
            model) or ``'adapter'`` (its full prediction); see the module
            docstring.
        config (str, optional): The run's config file (to find its row in
            a benchmark JSON).
    """

    def __init__(self, relative_cost: Union[float, str] = 1.0,
                 measure_frames: int = 5, skip_prediction: str = 'forward',
                 config: Optional[str] = None) -> None:
        if skip_prediction not in SKIP_PREDICTIONS:
            raise ValueError(f'skip_prediction must be one of '
                             f'{SKIP_PREDICTIONS}, got {skip_prediction!r}')
        self.skip_prediction = skip_prediction
        if isinstance(relative_cost, (list, tuple)) or (
                isinstance(relative_cost, str)
                and relative_cost.endswith('.json')):
            # a measured ratio below 1 is noise around Source's own speed
            relative_cost = max(1.0, round(
                benchmark_ratio(relative_cost, config), 3))
        if relative_cost != 'measure' and not (
                isinstance(relative_cost, (int, float))
                and relative_cost >= 1):
            raise ValueError("relative_cost must be a number >= 1 or "
                             f"'measure', got {relative_cost!r}")
        self.relative_cost = relative_cost
        self.measure_frames = measure_frames
        self.frame = 0
        self._ratios: List[float] = []
        self.k: Optional[int] = None if relative_cost == 'measure' \
            else math.ceil(relative_cost)

    @property
    def measuring(self) -> bool:
        return self.k is None

    def adapt_now(self) -> bool:
        """Whether the next frame is adapted on; advances the frame."""
        frame, self.frame = self.frame, self.frame + 1
        return self.measuring or frame % self.k == 0

    def add_measurement(self, step_s: float, source_s: float) -> None:
        """A timed step; fixes ``k`` after ``measure_frames`` of them."""
        self._ratios.append(step_s / max(source_s, 1e-9))
        if len(self._ratios) >= self.measure_frames:
            self.k = max(1, math.ceil(median(self._ratios)))
            self.relative_cost = round(median(self._ratios), 3)
            self.frame = 0  # the next frame starts a fresh schedule

    def state_dict(self) -> dict:
        return dict(frame=self.frame, k=self.k, ratios=list(self._ratios),
                    relative_cost=self.relative_cost)

    def load_state_dict(self, state: dict) -> None:
        self.frame, self.k = state['frame'], state['k']
        self._ratios = list(state['ratios'])
        self.relative_cost = state['relative_cost']


def benchmark_ratio(paths: Union[str, Sequence[str]],
                    config: Optional[str]) -> float:
    """The interleaved time ratio of ``config`` in a benchmark JSON, or in
    the first of several that has a row measured with it.

    Raises:
        KeyError: No file has a row measured with that config file.
    """
    from tta_seg.utils.paths import resolve_path
    paths = [paths] if isinstance(paths, str) else list(paths)
    name = osp.basename(config or '')
    for path in paths:
        with open(resolve_path(path)) as f:
            rows = json.load(f)['rows']
        for row in rows:
            if osp.basename(row['config']) == name \
                    and '[' not in row['method']:
                return float(row.get('interleaved_ratio') or 1.0)
    raise KeyError(f'{", ".join(paths)}: no row measured with '
                   f'{name or "(no config)"}; measure it with '
                   'tools/benchmark.py, give a number, or use '
                   "relative_cost='measure'")


def timed(fn, *args):
    """``(fn(*args), seconds)``, synchronising CUDA around the call."""
    sync = torch.cuda.synchronize if torch.cuda.is_available() else None
    if sync:
        sync()
    start = time.perf_counter()
    out = fn(*args)
    if sync:
        sync()
    return out, time.perf_counter() - start


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


def source_forward(segmentor, batch: dict) -> None:
    """One plain forward of the segmentor (the stream's frame rate), as
    the time budget measures it."""
    with torch.no_grad():
        data = segmentor.data_preprocessor(
            dict(inputs=batch['inputs'],
                 data_samples=strip_labels(batch['data_samples'])), False)
        segmentor.inference(data['inputs'],
                            [s.metainfo for s in data['data_samples']])


def describe_stream(order: str, orders: List[List[str]], reset: str,
                    budget: Optional['TimeBudget'],
                    domains: List[dict]) -> dict:
    """What defines the stream, for results.json and reports."""
    info = dict(order=order, orders=orders, reset=reset,
                protocol='every frame')
    if budget is not None:
        info.update(protocol='time budget',
                    relative_cost=budget.relative_cost,
                    adapt_every=budget.k,
                    skip_prediction=budget.skip_prediction)
    shifts = {d['name']: shift_steps(d['dataset']) for d in domains}
    if any(shifts.values()):
        info['shifts'] = shifts
    return info


def check_stream(domains: List[dict], reset: str, mixed: bool,
                 order: Order) -> List[str]:
    """Refuse an inconsistent stream; return the domain names."""
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
    return names


def step(adapter, batch: dict, adapt: bool, skipped: bool = False,
         budget: Optional['TimeBudget'] = None):
    """Adapt and predict, or only predict (``skipped``: a frame the time
    budget does not let the adapter adapt on); while a time budget is
    being measured, also time a Source forward of the same batch."""
    if not adapt:
        plain = skipped and budget.skip_prediction == 'forward'
        return adapter.predict_step(batch, plain=plain)
    if budget is None or not budget.measuring:
        return adapter.test_step(batch)
    _, source_s = timed(source_forward, adapter.segmentor, batch)
    outputs, step_s = timed(adapter.test_step, batch)
    budget.add_measurement(step_s, source_s)
    return outputs
