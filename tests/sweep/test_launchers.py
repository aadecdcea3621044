"""Launchers. The sweep's logic on the serial launcher, without Ray: the
records of runs done one after another, a broken trial failing alone, a
re-run skipping finished trials, a conflict keeping the finished row.
Starting Ray: an address where nothing answers is refused at once, naming
it; a local instance leaves no session folder behind."""
import os
import socket
import time

import pytest

from tests.sweep_helpers import make_sweep_env, records


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    """The sweep test folder, importable (its configs import a module of
    test adapters)."""
    import sys
    root = tmp_path_factory.mktemp('serial')
    make_sweep_env(root)
    sys.path.insert(0, str(root))
    yield root
    sys.path.remove(str(root))


def serial(env, work_root, configs, **kwargs):
    from tta_seg.sweep import expand, run_sweep
    trials = expand(dict(configs={k: str(env / f'{k}.py') for k in configs},
                         **kwargs))
    return trials, run_sweep(trials, str(work_root), progress=False,
                             launcher='serial')


@pytest.mark.slow
def test_serial_sweep_logic_without_ray(env, tmp_path):
    import json

    from tta_seg.apis.run import build_run_cfg, run_tta
    trials, outcomes = serial(env, tmp_path / 'w', ['bn', 'broken'])
    status = {n: o['status'] for n, o in outcomes.items()}
    assert status == {'bn-default-seed0': 'done',
                      'broken-default-seed0': 'failed'}
    assert 'broken adapter' in outcomes['broken-default-seed0']['error']
    run_tta(build_run_cfg(str(env / 'bn.py'), str(tmp_path / 'direct'),
                          seed=0))
    assert records(tmp_path / 'w' / 'bn-default-seed0') == \
        records(tmp_path / 'direct')
    finished = json.loads((tmp_path / 'w' / 'sweep.json').read_text())
    # a re-run skips; a trial of the same name with other settings is a
    # conflict, and the finished row stays
    _, again = serial(env, tmp_path / 'w', ['bn'])
    assert again['bn-default-seed0']['status'] == 'skipped'
    _, other = serial(env, tmp_path / 'w', ['bn'],
                      cfg_options={'test_cfg.rounds': 2})
    assert other['bn-default-seed0']['status'] == 'conflict'
    kept = json.loads((tmp_path / 'w' / 'sweep.json').read_text())
    row = next(t for t in kept['trials'] if t['name'] == 'bn-default-seed0')
    assert row == next(t for t in finished['trials']
                       if t['name'] == 'bn-default-seed0')


def test_unknown_launcher_is_named(env, tmp_path):
    from tta_seg.sweep import expand, run_sweep
    trials = expand(dict(configs=dict(bn=str(env / 'bn.py'))))
    with pytest.raises(KeyError, match="'slurm'.*'ray', 'serial'"):
        run_sweep(trials, str(tmp_path), launcher='slurm')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.mark.ray
@pytest.mark.parametrize('form', ['{host}:{port}', 'ray://{host}:{port}'])
def test_an_address_that_does_not_answer_is_refused(form):
    from tta_seg.sweep.launchers import SweepNotStarted, init_ray
    import ray
    assert not ray.is_initialized()
    address = form.format(host='127.0.0.1', port=free_port())
    start = time.monotonic()
    with pytest.raises(SweepNotStarted) as err:
        init_ray(address=address)
    assert time.monotonic() - start < 5
    assert address in str(err.value) and 'ray start --head' in str(err.value)
    assert not ray.is_initialized()


@pytest.mark.ray
def test_a_malformed_address_is_named():
    from tta_seg.sweep.launchers import SweepNotStarted, check_address
    with pytest.raises(SweepNotStarted, match='head:port6379.*HOST:PORT'):
        check_address('head:port6379')


@pytest.mark.slow
@pytest.mark.ray
def test_a_local_instance_removes_its_session_folder():
    from tta_seg.sweep import launchers as engine
    default = '/tmp/ray'
    before = set(os.listdir(default)) if os.path.isdir(default) else set()
    assert engine.init_ray(num_cpus=1)
    own = engine._OWN_TEMP_DIR
    try:
        assert any(n.startswith('session_') for n in os.listdir(own))
    finally:
        engine.shutdown_ray()
    assert not os.path.exists(own) and engine._OWN_TEMP_DIR is None
    after = set(os.listdir(default)) if os.path.isdir(default) else set()
    assert after <= before  # nothing new in Ray's default folder
