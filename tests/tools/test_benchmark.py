"""tools/benchmark.py on a tiny config: ratios against Source, one run."""
import json
import textwrap

import pytest

from tests.tiny import tiny_segmentor_cfg
from tta_seg.cli import bench as benchmark


def write_tent_config(folder):
    """A TENT config on the tiny BN segmentor."""
    cfg = folder / 'tent.py'
    cfg.write_text(textwrap.dedent(f'''
    default_scope = 'tta_seg'
    model = {tiny_segmentor_cfg('bn')!r}
    adapter = dict(type='TENT', optim_wrapper=dict(
        optimizer=dict(type='Adam', lr=1e-3)))
    '''))
    return cfg


def test_parse_spec():
    assert benchmark.parse_spec('a.py') == ('a.py', {}, '')
    path, opts, label = benchmark.parse_spec('a.py::fast_views=False,x=1')
    assert path == 'a.py' and label == '[fast_views=False,x=1]'
    assert opts == {'adapter.fast_views': 'False', 'adapter.x': '1'}


@pytest.mark.slow
def test_benchmark_reports_ratios(tmp_path):
    cfg = write_tent_config(tmp_path)
    out = tmp_path / 'bench.json'
    benchmark.main([str(cfg), f'{cfg}::variant=original', '--size', '32', '48',
                    '--iters', '2', '--warmup', '1', '--device', 'cpu', '--out', str(out)])
    rows = json.loads(out.read_text())['rows']
    assert [r['method'] for r in rows] == ['Source', 'TENT',
                                           'TENT[variant=original]']
    assert rows[0]['time_ratio'] == 1.0
    # a tiny model may not raise the peak RSS at all (ratio then undefined)
    assert rows[0]['memory_ratio'] == 1.0 or rows[0]['peak_mb'] == 0
    for row in rows:
        assert row['seconds'] > 0 and row['peak_mb'] >= 0
    # time ratios come from steps alternating with Source in one process
    for row in rows[1:]:
        assert row['interleaved_ratio'] > 0
        assert row['time_ratio'] == row['interleaved_ratio']


@pytest.mark.slow
def test_no_interleave_divides_separate_medians(tmp_path):
    cfg = write_tent_config(tmp_path)
    out = tmp_path / 'bench.json'
    benchmark.main([str(cfg), '--size', '32', '48', '--iters', '2',
                    '--warmup', '1', '--device', 'cpu', '--no-interleave',
                    '--out', str(out)])
    source, tent = json.loads(out.read_text())['rows']
    assert tent['interleaved_ratio'] is None
    assert tent['time_ratio'] == tent['seconds'] / source['seconds']
