"""Choosing hyper-parameters on a validation stream, as the protocol asks
(never on the test stream): a sweep with ``selection=dict(val=..., test=...)``
runs in two phases, the validation trials first, then on the test stream
only the grid point each config chose (:func:`run_selected`) and, with
``faithful=True``, also the point of the config's own values, so that one
sweep measures faithful and tuned (:mod:`.tuned`).
"""
from typing import Callable, Dict, List, Optional

from .leaderboard import choose_on_validation, chosen_trials, load_trials
from .spec import Trial
from .tuned import faithful_trials

#: Runs a list of trials and returns their outcomes (e.g. a partial
#: :func:`~tta_seg.sweep.engine.run_sweep`).
RunTrials = Callable[[List[Trial]], Dict[str, dict]]


def run_selected(trials: List[Trial], work_root: str, run: RunTrials,
                 val: Optional[str] = None, test: Optional[str] = None,
                 test_all: bool = False,
                 faithful: bool = False) -> Dict[str, dict]:
    """Run ``trials`` with ``run``; with a validation stream ``val`` (and
    ``test``), first the validation trials, then every trial of the other
    streams and, on ``test``, only the grid points chosen on ``val``
    (``test_all``: every test trial too; ``faithful``: also each config's
    own values, :func:`~.tuned.faithful_trials`).

    Returns:
        dict: trial name -> outcome, of every trial that ran.

    Raises:
        ValueError: ``val`` without ``test``.
    """
    if val and not test:
        raise ValueError('a validation stream needs a test stream')
    if not val or test_all:
        return dict(run(trials))
    outcomes = dict(run([t for t in trials if t.stream == val]))
    chosen = choose_on_validation(load_trials(work_root), val)
    picked = chosen_trials(trials, chosen, test)
    if faithful:
        names = {t.name for t in picked}
        picked += [t for t in faithful_trials(trials, test)
                   if t.name not in names]
    outcomes.update(run([t for t in trials if t.stream not in (val, test)] +
                        picked))
    return outcomes
