"""Live tracking of a run in mmengine's visualizer backends (TensorBoard,
Weights & Biases, MLflow, or mmengine's local JSON): an observer only.

Off by default. ``tta-seg run CONFIG --track tensorboard`` (or ``wandb``,
``mlflow``, ``local``; several may be given) adds this hook and a
visualizer with those backends; in a config::

    visualizer = dict(type='Visualizer',
                      vis_backends=[dict(type='TensorboardVisBackend')])
    custom_hooks = [dict(type='LiveTrackingHook')]

Scalars, against the number of batches seen so far (``step``):

* ``loss/<name>``: the adapter's losses of its last update (methods that
  take no gradient step, e.g. DIGA or BNAdapt, have none);
* ``counter/<name>``: the adapter's counters (``skipped_updates``, SAR's
  ``recoveries``, ...);
* ``mIoU/<domain>`` and ``mIoU/stream`` after every (round, domain), and
  ``mIoU/source`` for the forgetting check.

The backends themselves (``tensorboard``, ``wandb``, ``mlflow``) are
optional packages: install the one you use.
"""
from typing import Optional

from mmengine.hooks import Hook

from tta_seg.registry import HOOKS

#: ``--track`` names -> mmengine backend types.
BACKENDS = dict(local='LocalVisBackend', tensorboard='TensorboardVisBackend',
                wandb='WandbVisBackend', mlflow='MLflowVisBackend')


@HOOKS.register_module()
class LiveTrackingHook(Hook):
    """Send per-step losses and counters and per-domain mIoU to the
    runner's visualizer.

    Args:
        interval (int): Send step scalars every ``interval`` batches.
    """

    priority = 'VERY_LOW'

    def __init__(self, interval: int = 1) -> None:
        if not isinstance(interval, int) or interval < 1:
            raise ValueError(f'interval must be an integer >= 1, got '
                             f'{interval!r}')
        self.interval = interval
        self.step = 0

    def after_test_iter(self, runner, batch_idx: int, data_batch=None,
                        outputs=None) -> None:
        self.step += 1
        if self.step % self.interval:
            return
        adapter = runner.test_loop.adapter
        scalars = {f'loss/{k}': float(v) for k, v in
                   (getattr(adapter, 'last_losses', None) or {}).items()}
        scalars.update({f'counter/{k}': v
                        for k, v in adapter.counters.items()})
        if scalars:
            runner.visualizer.add_scalars(scalars, step=self.step)

    def after_test_epoch(self, runner, metrics: Optional[dict] = None
                         ) -> None:
        if not metrics or 'mIoU' not in metrics:
            return
        _, domain = runner.test_loop.current
        key = 'mIoU/source' if domain == 'source' else f'mIoU/{domain}'
        scalars = {key: float(metrics['mIoU'])}
        if domain != 'source':
            scalars['mIoU/stream'] = float(metrics['mIoU'])
        runner.visualizer.add_scalars(scalars, step=self.step)


def tracking_cfg(names) -> dict:
    """The config entries that switch tracking on for the ``--track``
    ``names`` (``visualizer`` and the hook)."""
    unknown = [n for n in names if n not in BACKENDS]
    if unknown:
        raise ValueError(f'--track {unknown}: known backends are '
                         f'{sorted(BACKENDS)}')
    return dict(visualizer=dict(type='Visualizer', vis_backends=[
        dict(type=BACKENDS[n]) for n in dict.fromkeys(names)]),
        hook=dict(type='LiveTrackingHook'))
