"""Starting a sweep's Ray: an address where nothing answers is refused
at once, naming it; a local instance leaves no session folder behind."""
import os
import socket
import time

import pytest

ray = pytest.importorskip('ray')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize('form', ['{host}:{port}', 'ray://{host}:{port}'])
def test_an_address_that_does_not_answer_is_refused(form):
    from tta_seg.sweep.engine import SweepNotStarted, init_ray
    assert not ray.is_initialized()
    address = form.format(host='127.0.0.1', port=free_port())
    start = time.monotonic()
    with pytest.raises(SweepNotStarted) as err:
        init_ray(address=address)
    assert time.monotonic() - start < 5
    assert address in str(err.value) and 'ray start --head' in str(err.value)
    assert not ray.is_initialized()


def test_a_malformed_address_is_named():
    from tta_seg.sweep.engine import SweepNotStarted, check_address
    with pytest.raises(SweepNotStarted, match='head:port6379.*HOST:PORT'):
        check_address('head:port6379')


def test_a_local_instance_removes_its_session_folder():
    from tta_seg.sweep import engine
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
