"""tools/report.py on hand-made results files."""
import json

import pytest


from tta_seg.cli import report  # noqa: E402


def write_run(folder, method, values, forgetting=None, **extra):
    folder.mkdir(parents=True)
    domains = ['fog', 'night']
    records = [dict(round=r + 1, domain=d, mIoU=values[r][i], mAcc=0.0,
                    aAcc=0.0, per_class_iou={}, num_images=2, seconds=1.0)
               for r in range(len(values)) for i, d in enumerate(domains)]
    res = dict(method=method, config=f'configs/x/{method.lower()}_m.py',
               domains=domains, rounds=len(values), records=records,
               mean_mIoU=0.0, **extra)
    if forgetting is not None:
        res['forgetting'] = [dict(records[0], domain='source', mIoU=v)
                             for v in forgetting]
    (folder / 'results.json').write_text(json.dumps(res))


def test_table_values_and_plot(tmp_path):
    write_run(tmp_path / 'a', 'Source', [[50.0, 20.0], [50.0, 20.0]])
    write_run(tmp_path / 'b', 'TENT', [[52.0, 22.0], [40.0, 10.0]],
              forgetting=[60.0, 55.0])
    out = tmp_path / 'out'
    table = report.main([str(tmp_path / '*'), '--out', str(out)])
    assert table[0] == ['run', 'fog', 'night', 'round 1', 'last round',
                        'mean', 'source after']
    assert table[1] == ['Source (source_m)', '50.0', '20.0', '35.0', '35.0',
                        '35.0', '-']
    # TENT: fog (52+40)/2, night (22+10)/2, round 1 37, round 2 25, mean 31
    assert table[2] == ['TENT (tent_m)', '46.0', '16.0', '37.0', '25.0',
                        '31.0', '55.0']
    assert (out / 'comparison.png').stat().st_size > 1000
    assert 'TENT (tent_m)' in (out / 'comparison.md').read_text()
    assert (out / 'comparison.csv').read_text().count('\n') == 3


def test_missing_results_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nothing_here'):
        report.main([str(tmp_path / 'nothing_here')])


def test_runs_differing_in_overrides_and_counters(tmp_path):
    lr = 'adapter.optim_wrapper.optimizer.lr'
    for name, value in (('a', 1e-5), ('b', 1e-4)):
        write_run(tmp_path / name, 'TENT', [[50.0, 20.0]],
                  overrides={lr: value}, seed=0)
    write_run(tmp_path / 'c', 'TENT', [[50.0, 20.0]], overrides={lr: 1e-4},
              seed=1)
    res_c = tmp_path / 'c' / 'results.json'
    data = json.loads(res_c.read_text())
    data['records'][0]['skipped_updates'] = 2
    data['records'][1]['skipped_updates'] = 1
    res_c.write_text(json.dumps(data))
    table = report.main([str(tmp_path / '*'), '--out', str(tmp_path / 'o')])
    labels = [row[0] for row in table[1:]]
    assert labels == [f'TENT (tent_m) [{lr}=1e-05]',
                      f'TENT (tent_m) [{lr}=0.0001], seed 0',
                      f'TENT (tent_m) [{lr}=0.0001], seed 1']
    assert table[0][-1] == 'skipped_updates'
    assert [row[-1] for row in table[1:]] == ['-', '-', '3']


def test_stream_protocols_are_labelled_and_adapted_share_shown(tmp_path):
    write_run(tmp_path / 'a', 'TENT', [[50.0, 20.0]])
    write_run(tmp_path / 'b', 'TENT', [[40.0, 10.0]], stream=dict(
        order='random', orders=[['night', 'fog']], protocol='time budget',
        relative_cost=2.6, adapt_every=3, skip_prediction='forward'))
    res_b = tmp_path / 'b' / 'results.json'
    data = json.loads(res_b.read_text())
    for rec, adapted in zip(data['records'], (1, 0)):
        rec.update(frames=2, adapted_frames=adapted)
    res_b.write_text(json.dumps(data))
    table = report.main([str(tmp_path / '*'), '--out', str(tmp_path / 'o')])
    assert [row[0] for row in table[1:]] == [
        'TENT (tent_m)', 'TENT (tent_m) [random order] [time budget x2.6]']
    col = table[0].index('adapted %')
    assert [row[col] for row in table[1:]] == ['-', '25.0']
    data['stream']['skip_prediction'] = 'adapter'
    res_b.write_text(json.dumps(data))
    table = report.main([str(tmp_path / 'a'), str(tmp_path / 'b'),
                         '--out', str(tmp_path / 'o2')])
    assert table[2][0].endswith("[skipped frames: adapter's prediction]")


def test_a_whole_stream_override_is_summarised(tmp_path):
    steps = [dict(type='SyntheticWeather', condition='fog',
                  schedule=dict(type='triangle', low=1, high=5))]
    write_run(tmp_path / 'a', 'TENT', [[50.0, 20.0]], stream=dict(
        order='fixed', orders=[['fog', 'night']], protocol='every frame',
        shifts=dict(fog=steps, night=[])))
    res_a = tmp_path / 'a' / 'results.json'
    data = json.loads(res_a.read_text())
    data['overrides'] = {'test_cfg': dict(
        type='ContinualTestLoop', rounds=3, domains=[
            dict(name='fog', dataset=dict(pipeline=steps * 20)),
            dict(name='night', dataset=dict(pipeline=steps * 20))]),
        'adapter.lr': 0.1}
    res_a.write_text(json.dumps(data))
    table = report.main([str(tmp_path / 'a'), '--out', str(tmp_path / 'o')])
    assert table[1][0] == ('TENT (tent_m) [gradual triangle] '
                           '[adapter.lr=0.1 test_cfg=<stream: 3 rounds of '
                           'fog, night>]')
