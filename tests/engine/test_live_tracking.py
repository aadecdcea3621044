"""Live tracking: the visualizer receives per-step losses and counters and
per-domain mIoU; the results are those of a run without it (observer)."""
import glob
import json
import os.path as osp

import pytest

from tests.loop_helpers import make_cfg, run, strip_time
from tta_seg.engine.hooks.live_tracking import tracking_cfg

pytestmark = pytest.mark.slow


def scalars_of(work_dir):
    path, = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def test_tracked_run_sends_losses_counters_and_miou(data_root, tmp_path):
    plain = run(make_cfg(data_root, str(tmp_path / 'plain')))
    cfg = make_cfg(data_root, str(tmp_path / 'tracked'))
    tracking = tracking_cfg(['local'])
    cfg.visualizer = tracking['visualizer']
    cfg.custom_hooks = [tracking['hook']]
    tracked = run(cfg)
    assert strip_time(tracked['records']) == strip_time(plain['records'])
    rows = scalars_of(str(tmp_path / 'tracked'))
    keys = set().union(*rows)
    assert {'loss/loss_self_ce', 'counter/skipped_updates', 'mIoU/a',
            'mIoU/b', 'mIoU/stream', 'mIoU/source'} <= keys, keys
    steps = [r['step'] for r in rows if 'loss/loss_self_ce' in r]
    assert steps == sorted(steps) and len(steps) == len(set(steps))
    # the per-domain mIoU sent equals the record written
    sent = [r['mIoU/a'] for r in rows if 'mIoU/a' in r]
    assert sent == pytest.approx([r['mIoU'] for r in tracked['records']
                                  if r['domain'] == 'a'], abs=1e-3)


def test_unknown_backend_is_named():
    with pytest.raises(ValueError, match="'neptune'.*tensorboard"):
        tracking_cfg(['neptune'])
