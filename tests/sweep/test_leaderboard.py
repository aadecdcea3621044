"""The sweep leaderboard on made-up results: mean ± std equal to
hand-computed values, validation-based selection that never reads the
test stream, and the written files."""
import json
import math
import os

import pytest

from tta_seg.sweep.leaderboard import (choose_on_validation, leaderboard,
                                       load_trials, mean_std, plot,
                                       selected_rows, stream_grid,
                                       write_leaderboard)


def made_up(miou, forgetting=None, seconds=1.0):
    """results.json of a 2-round, 2-domain run: ``miou`` lists (round 1
    a, b, round 2 a, b)."""
    keys = [(1, 'a'), (1, 'b'), (2, 'a'), (2, 'b')]
    res = dict(method='TENT', domains=['a', 'b'], rounds=2, complete=True,
               records=[dict(round=r, domain=d, mIoU=m, num_images=10,
                             seconds=seconds)
                        for (r, d), m in zip(keys, miou)])
    if forgetting is not None:
        res['forgetting'] = [dict(round=2, domain='source', mIoU=forgetting)]
    return res


def trial(name, key, stream, seed, results, lr=None, rss=None):
    return dict(name=name, key=key, stream=stream, seed=seed,
                params={} if lr is None else {'lr': lr}, results=results,
                peak_rss_mb=rss, status='done')


def test_mean_std_by_hand():
    assert mean_std([]) == (None, None, 0)
    assert mean_std([3.0]) == (3.0, None, 1)
    mean, std, n = mean_std([1.0, 2.0, 6.0])
    assert (mean, n) == (3.0, 3)
    assert std == pytest.approx(math.sqrt(((4 + 1 + 9) / 2)))


def test_group_stats_equal_hand_computed_values():
    trials = [trial('t0', 'tent', 'random', 0, made_up([10, 20, 30, 40], 50),
                    rss=100),
              trial('t1', 'tent', 'random', 1, made_up([20, 20, 40, 60], 40,
                                                       seconds=3.0), rss=300),
              trial('s0', 'src', 'random', 0, made_up([5, 5, 5, 5]))]
    rows = leaderboard(trials)
    assert [(r['key'], r['n'], r['seeds']) for r in rows] == [
        ('tent', 2, [0, 1]), ('src', 1, [0])]
    stats = rows[0]['stats']
    # domain a: seed 0 (10+30)/2 = 20, seed 1 (20+40)/2 = 30
    assert stats['a'][0] == 25 and stats['a'][1] == pytest.approx(
        math.sqrt(50))
    # b: 30 and 40; mean: 25 and 35; source after 50 and 40
    assert stats['b'][0] == 35
    assert stats['mean'][0] == 30 and stats['mean'][1] == pytest.approx(
        math.sqrt(50))
    assert stats['source after'] == (45, pytest.approx(math.sqrt(50)))
    # seconds per image: 4 x 1 s / 40 images and 4 x 3 s / 40 images
    assert stats['s/img'][0] == pytest.approx(0.2)
    assert stats['peak MiB'][0] == 200
    assert rows[0]['rounds'] == [[15, 35], [20, 50]]
    assert rows[1]['stats']['mean'] == (5, None)


class Poisoned(dict):
    """results that fail if anything reads them."""

    def __getitem__(self, key):
        raise AssertionError('the test stream was read')

    get = __getitem__


def test_selection_reads_only_the_validation_stream():
    trials = []
    for lr, val_scores, test_scores in ((1e-4, (30, 32), (10, 10)),
                                        (1e-3, (20, 22), (90, 90))):
        for seed, (v, t) in enumerate(zip(val_scores, test_scores)):
            trials.append(trial(f'v{lr}{seed}', 'tent', 'val', seed,
                                made_up([v] * 4), lr=lr))
            trials.append(trial(f't{lr}{seed}', 'tent', 'test', seed,
                                Poisoned(made_up([t] * 4)), lr=lr))
    chosen = choose_on_validation(trials, 'val')
    # 1e-4 wins on validation (31 vs 21) although 1e-3 is better on test
    assert chosen['tent']['params'] == 'lr=0.0001'
    assert chosen['tent']['score'] == 31
    assert chosen['tent']['candidates'] == {'lr=0.0001': 31, 'lr=0.001': 21}
    # reporting then reads the test rows of the chosen point only
    test = [dict(t, results=dict(t['results'])) for t in trials
            if t['stream'] == 'test']
    test = [dict(t, results=made_up([10 if t['params']['lr'] == 1e-4
                                     else 90] * 4)) for t in test]
    picked = selected_rows(leaderboard(test), chosen, 'test')
    assert len(picked) == 1 and picked[0]['params'] == 'lr=0.0001'
    assert picked[0]['stats']['mean'][0] == 10 and picked[0]['val'] == 31


def write_sweep(root, trials):
    rows = []
    for t in trials:
        res = t.pop('results')
        os.makedirs(root / t['name'])
        (root / t['name'] / 'results.json').write_text(json.dumps(res))
        rows.append(t)
    rows.append(dict(name='bad', key='x', stream='val', seed=0, params={},
                     status='failed', error='KeyError: boom'))
    (root / 'sweep.json').write_text(json.dumps(dict(trials=rows)))


def test_files_of_a_sweep(tmp_path):
    trials = [trial(f'{s}{lr}{seed}', 'tent', s, seed,
                    made_up([lr * 1e5 + seed + (s == 'test')] * 4, 40), lr=lr)
              for s in ('val', 'test') for lr in (1e-5, 1e-4)
              for seed in (0, 1)]
    unfinished = made_up([1] * 4)
    unfinished['complete'] = False
    trials.append(trial('cut', 'tent', 'test', 9, unfinished, lr=1e-5))
    write_sweep(tmp_path, trials)
    loaded = load_trials(str(tmp_path))
    assert [t['results'] is None for t in loaded][-2:] == [True, True]
    text = write_leaderboard(str(tmp_path), 'T', 'val', 'test')
    assert '| TENT (tent) | test | lr=0.0001 | 2 | 11.5 ± 0.7 |' in text
    assert 'bad: KeyError: boom' in text
    selected = (tmp_path / 'selected.md').read_text()
    assert 'lr=0.0001' in selected and 'lr=1e-05' not in selected
    for name in ('leaderboard.md', 'leaderboard.csv', 'leaderboard.png',
                 'selected.csv'):
        assert (tmp_path / name).stat().st_size > 0
    with pytest.raises(FileNotFoundError, match='not the work root'):
        load_trials(str(tmp_path / 'tent'))


def test_runs_by_streams_grid_and_its_heat_map(tmp_path):
    trials = [trial('t0', 'tent', 'fixed', 0, made_up([10, 20, 30, 40])),
              trial('t1', 'tent', 'fixed', 1, made_up([20, 20, 40, 60])),
              trial('s0', 'src', 'fixed', 0, made_up([5, 5, 5, 5])),
              trial('t2', 'tent', 'mixed', 0, made_up([1, 2, 3, 4])),
              trial('l0', 'tent', 'mixed', 0, made_up([2, 2, 2, 2]), lr=0.1)]
    runs, streams, grid = stream_grid(leaderboard(trials))
    assert runs == ['TENT (tent)', 'TENT (src)', 'TENT (tent) lr=0.1']
    assert streams == ['fixed', 'mixed']
    assert grid[0][0] == (30, pytest.approx(math.sqrt(50)))
    assert grid[0][1] == (2.5, None)
    assert grid[1] == [(5, None), None]      # src never ran on 'mixed'
    assert grid[2] == [None, (2, None)]
    plot(leaderboard(trials), str(tmp_path / 'grid.png'), 'made up')
    assert (tmp_path / 'grid.png').read_bytes()[:4] == b'\x89PNG'


def test_two_phases_test_only_the_point_chosen_on_validation(tmp_path):
    """run_selected, with a fake runner writing results: validation
    first, then only the chosen grid point on the test stream."""
    import json

    from tta_seg.sweep.engine import write_sweep_file
    from tta_seg.sweep.selection import run_selected
    from tta_seg.sweep.spec import expand
    trials = expand(dict(
        configs=dict(m=dict(config='m.py', grid={'lr': [1, 2, 3]})),
        streams=dict(val={}, test={}), seeds=[0]))
    score = {1: 40.0, 2: 55.0, 3: 50.0}  # lr 2 is best on validation
    ran = []

    def fake_run(part):
        ran.append(sorted(t.name for t in part))
        outcomes = {}
        for t in part:
            work = tmp_path / t.name
            work.mkdir()
            records = [dict(round=1, domain='a', mIoU=score[t.params['lr']])]
            (work / 'results.json').write_text(json.dumps(dict(
                method='M', config='m.py', domains=['a'], rounds=1,
                records=records, complete=True)))
            outcomes[t.name] = dict(name=t.name, status='done')
        write_sweep_file(str(tmp_path), part, outcomes)
        return outcomes

    out = run_selected(trials, str(tmp_path), fake_run, 'val', 'test')
    assert ran[0] == sorted(t.name for t in trials if t.stream == 'val')
    assert ran[1] == [t.name for t in trials
                      if t.stream == 'test' and t.params['lr'] == 2]
    assert len(out) == 4
    with pytest.raises(ValueError, match='test stream'):
        run_selected(trials, str(tmp_path), fake_run, 'val', None)
