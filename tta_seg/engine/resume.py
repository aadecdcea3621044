"""The resume state of a continual run: what ``resume_state.pth`` holds,
how it is written and read back, and the check that it belongs to the run
that resumes it.

After every finished (round, domain) the loop saves the adaptation state
(adapter ``state_dict`` incl. teacher/anchor, optimizer, counters, RNG
states, the records so far, the time budget's schedule) atomically; a run
with ``resume=True`` loads it and continues after the last finished step,
so the resumed records equal those of an uninterrupted run. The state
carries the run's identity (:mod:`tta_seg.engine.identity`); a state of a
run with another identity is refused, naming what differs.
"""
import json
import os
import os.path as osp
import random
import time
from typing import Optional, Set, Tuple

import numpy as np
import torch
from mmengine.logging import print_log

from tta_seg.evaluation.results import RESULTS_FILE, ResultsWriter
from tta_seg.utils.checkpoint import load_state_file
from tta_seg.utils.io import atomic_write, save_torch
from .identity import identity_diff

#: The resume state in a work dir (also read by the sweeps).
RESUME_FILE = 'resume_state.pth'

Done = Set[Tuple[int, str]]


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


def save_resume(work_dir: str, adapter, writer: ResultsWriter, done: Done,
                identity: dict, budget=None) -> None:
    """Write ``resume_state.pth`` atomically."""
    optim = adapter.optim_wrapper
    state = dict(adapter=adapter.state_dict(),
                 optimizer=optim.state_dict() if optim else None,
                 counters=dict(adapter.counters),
                 rng=rng_state(), records=writer.records,
                 forgetting=writer.forgetting, mixed=writer.mixed,
                 done=sorted([list(d) for d in done]),
                 budget=budget.state_dict() if budget else None,
                 identity=json.dumps(identity, sort_keys=True))
    atomic_write(osp.join(work_dir, RESUME_FILE),
                 lambda tmp: save_torch(state, tmp))


def load_resume(work_dir: str, adapter, writer: ResultsWriter,
                identity: dict, budget=None) -> Optional[Done]:
    """Restore the state of ``work_dir`` into ``adapter``, ``writer``,
    ``budget`` and the RNGs; return the finished (round, domain) steps, or
    None when there is no state to resume.

    Raises:
        ResumeMismatchError: The state belongs to another run.
        CheckpointError: The file is damaged (named).
    """
    path = osp.join(work_dir, RESUME_FILE)
    if not osp.exists(path):
        print_log(f'--resume: no {path}, starting from the beginning',
                  logger='current')
        return None
    state = load_state_file(path, what='resume state')
    check_identity(path, state, identity)
    adapter.load_state_dict(state['adapter'])
    if adapter.optim_wrapper is not None and state['optimizer']:
        adapter.optim_wrapper.load_state_dict(state['optimizer'])
    adapter.counters.update(state['counters'])
    if budget is not None:
        budget.load_state_dict(state['budget'])
    set_rng_state(state['rng'])
    writer.load_state(state)
    done = {(int(r), str(d)) for r, d in state['done']}
    print_log(f'resumed from {path}: {len(done)} (round, domain) steps '
              'already done', logger='current')
    return done


def check_identity(path: str, state: dict, identity: dict) -> None:
    """Refuse a resume state written by a run with another identity."""
    if 'identity' not in state:
        raise ResumeMismatchError(
            f'{path} was written by an older tta_seg that did not '
            'record what defines its run, so resuming it could mix two '
            'runs: start again without --resume (the earlier '
            f'{RESULTS_FILE} is kept) or use another --work-dir.')
    old = json.loads(state['identity'])
    if old != identity:
        raise ResumeMismatchError(
            f'--resume: {path} belongs to another run; it differs in\n  '
            + '\n  '.join(identity_diff(old, identity)) +
            '\nResume with the same config, checkpoint, overrides and '
            'seed, or start anew in another --work-dir (or here without '
            f'--resume: the earlier {RESULTS_FILE} is kept).')


def backup_old_results(work_dir: str) -> None:
    """Never overwrite the results of an earlier run: rename them."""
    old = osp.join(work_dir, RESULTS_FILE)
    if osp.exists(old):
        stamp = time.strftime('%Y%m%d_%H%M%S')
        os.replace(old, old.replace('.json', f'.{stamp}.json'))
        print_log(f'kept the earlier {RESULTS_FILE} as '
                  f'results.{stamp}.json (use --resume to continue it)',
                  logger='current')
