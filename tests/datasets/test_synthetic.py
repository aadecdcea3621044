"""Synthetic street scenes, weather and the benchmark writer."""
import errno
import fcntl
import json
import os
import subprocess
import sys
import warnings

import numpy as np

import pytest

from tta_seg.datasets.synthetic import (CONDITIONS, acdc_paths,
                                        apply_weather, cityscapes_paths,
                                        ensure_benchmark, fog,
                                        generate_benchmark, is_complete,
                                        render_scene, save_preview)
from tta_seg.datasets.synthetic import generate as generate_module
from tta_seg.datasets.synthetic.scene import SKY_DEPTH_M

SKY = 10
ROAD = 0
SIZE = (256, 128)
TINY = dict(num_train=3, num_val=1, num_target_train=1, num_target_val=1,
            width=64, height=32, seed=3)


def rng(seed):
    return np.random.default_rng(seed)


@pytest.fixture(scope='module')
def scene():
    """A scene with sky and road (seed chosen once, checked below)."""
    return render_scene(rng(0), *SIZE)


def test_scene_types_and_shapes(scene):
    image, label, depth = scene
    assert image.shape == (SIZE[1], SIZE[0], 3) and image.dtype == np.uint8
    assert label.shape == SIZE[::-1] and label.dtype == np.uint8
    assert depth.shape == SIZE[::-1] and depth.dtype == np.float32


def test_render_is_deterministic():
    first, again = render_scene(rng(7), 128, 64), render_scene(rng(7), 128,
                                                               64)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    other = render_scene(rng(8), 128, 64)
    assert not np.array_equal(first[0], other[0])
    assert not np.array_equal(first[1], other[1])


@pytest.mark.slow
def test_labels_are_valid_and_diverse():
    seen = set()
    for seed in range(10):
        _, label, _ = render_scene(rng(seed), *SIZE)
        values = set(np.unique(label).tolist())
        assert values <= set(range(19)) | {255}
        assert len(values - {255}) >= 6, f'seed {seed}: {values}'
        seen |= values
    assert len(seen - {255}) >= 12, seen


def test_depth_is_consistent_with_perspective(scene):
    _, label, depth = scene
    sky = label == SKY
    assert sky.any() and np.all(depth[sky] == SKY_DEPTH_M)
    assert np.all(np.isfinite(depth)) and np.all(depth > 0)
    assert depth[~sky].max() < SKY_DEPTH_M
    # On the road plane the image row is linear in inverse distance
    # (v = horizon + f h / Z), up to the ray-length factor off-centre.
    rows, cols = np.nonzero(label == ROAD)
    centre = np.abs(cols - label.shape[1] / 2) < label.shape[1] / 8
    inverse = 1.0 / depth[rows[centre], cols[centre]]
    assert np.corrcoef(rows[centre], inverse)[0, 1] > 0.98


def test_fog_pulls_far_pixels_to_the_airlight(scene):
    image, label, depth = scene
    foggy = fog(image, depth, rng(1), 1.0).astype(np.float32)
    airlight = foggy[label == SKY].mean(axis=0)
    distance = np.abs(foggy - airlight).mean(axis=2)
    change = np.abs(foggy - image.astype(np.float32)).mean(axis=2)
    near, far = depth < 15, (depth > 60) & (label != SKY)
    assert near.any() and far.any()
    assert distance[far].mean() < 0.5 * distance[near].mean()
    assert change[far].mean() > change[near].mean()


def test_fog_severity_zero_is_identity(scene):
    image, _, depth = scene
    clear = fog(image, depth, rng(1), 0.0)
    assert np.abs(clear.astype(int) - image).max() <= 1


@pytest.mark.parametrize('condition', CONDITIONS)
def test_weather_changes_image_deterministically(scene, condition):
    image, label, depth = scene
    out = apply_weather(condition, image, depth, label, rng(5))
    again = apply_weather(condition, image, depth, label, rng(5))
    np.testing.assert_array_equal(out, again)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - image).mean() > 8


def test_unknown_weather_is_rejected(scene):
    image, label, depth = scene
    with pytest.raises(ValueError, match='hail'):
        apply_weather('hail', image, depth, label, rng(0))


# -- benchmark writer ----------------------------------------------------
@pytest.fixture(scope='module')
def bench(tmp_path_factory):
    root = tmp_path_factory.mktemp('bench') / 'synthetic'
    return generate_benchmark(root, workers=1, progress=False, **TINY)


def _all_files(root):
    return sorted(p for p in root.rglob('*') if p.is_file())


@pytest.mark.slow
def test_benchmark_layouts(bench):
    for split, count in (('train', 3), ('val', 1)):
        for index in range(count):
            for path in cityscapes_paths(bench, split, index):
                assert path.is_file(), path
    for condition in CONDITIONS:
        for split, count in (('train', 1), ('val', 1)):
            for index in range(count):
                for path in acdc_paths(bench, condition, split, index):
                    assert path.is_file(), path
    record = json.loads((bench / '.complete.json').read_text())
    assert record['params']['num_train'] == 3
    assert is_complete(bench, **TINY)


@pytest.mark.slow
def test_benchmark_is_byte_identical_across_workers(bench, tmp_path):
    other = generate_benchmark(tmp_path / 'again', workers=2,
                               progress=False, **TINY)
    ours, theirs = _all_files(bench), _all_files(other)
    assert [p.relative_to(bench) for p in ours] == [
        p.relative_to(other) for p in theirs]
    for a, b in zip(ours, theirs):
        assert a.read_bytes() == b.read_bytes(), a


def test_ensure_benchmark_reuses_complete_folder(bench, monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError('should not regenerate')

    monkeypatch.setattr(generate_module, 'generate_benchmark', fail)
    assert ensure_benchmark(bench, workers=1, progress=False,
                            **TINY) == bench


@pytest.mark.slow
def test_interrupted_generation_never_looks_complete(tmp_path, monkeypatch):
    root = tmp_path / 'synthetic'
    calls = {'n': 0}
    original = generate_module.write_task

    def flaky(job):
        calls['n'] += 1
        if calls['n'] == 3:
            raise RuntimeError('simulated crash')
        original(job)

    monkeypatch.setattr(generate_module, 'write_task', flaky)
    with pytest.raises(RuntimeError, match='simulated'):
        generate_benchmark(root, workers=1, progress=False, **TINY)
    assert not (root / '.complete.json').exists()
    assert not is_complete(root, **TINY)
    assert list(tmp_path.iterdir()) == []  # temporary folder cleaned up
    monkeypatch.setattr(generate_module, 'write_task', original)
    ensure_benchmark(root, workers=1, progress=False, **TINY)
    assert is_complete(root, **TINY)


def dead_pid():
    """The pid of a process that has exited."""
    child = subprocess.Popen([sys.executable, '-c', 'pass'])
    child.wait()
    return child.pid


def fake_tmp(root, pid, lock_file=False):
    """A temporary folder as an interrupted run leaves it (~one image)."""
    tmp = root.parent / f'.{root.name}.tmp-{pid}'
    (tmp / 'cityscapes').mkdir(parents=True)
    (tmp / 'cityscapes' / 'x.png').write_bytes(b'\0' * 1000)
    if lock_file:
        (tmp / generate_module.LOCK_FILE).touch()
    return tmp


@pytest.mark.slow
def test_stale_temporary_folders_are_removed_live_ones_kept(tmp_path):
    root = tmp_path / 'synthetic'
    # pid numbers above the kernel's pid_max: the lock decides
    killed = fake_tmp(root, 4_000_000, lock_file=True)  # lock released
    running = fake_tmp(root, 4_000_001, lock_file=True)  # locked below
    legacy = fake_tmp(root, dead_pid())  # older version: no lock file
    alive = fake_tmp(root, os.getppid())  # no lock file, pid running
    other = fake_tmp(tmp_path / 'other', dead_pid())  # another benchmark
    with open(running / generate_module.LOCK_FILE, 'r+b') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        ensure_benchmark(root, workers=1, progress=False, **TINY)
        assert not killed.exists() and not legacy.exists()
        assert running.is_dir() and alive.is_dir() and other.is_dir()
    assert is_complete(root, **TINY)
    # complete: nothing to generate, but the released folder still goes
    assert ensure_benchmark(root, workers=1, progress=False,
                            **TINY) == root
    assert not running.exists() and alive.is_dir()


def test_full_disk_names_path_and_size_and_leaves_nothing(tmp_path,
                                                         monkeypatch):
    root = tmp_path / 'synthetic'
    calls = {'n': 0}
    original = generate_module._write

    def filling(path, array):
        calls['n'] += 1
        if calls['n'] == 4:
            raise OSError(errno.ENOSPC, 'No space left on device', str(path))
        original(path, array)

    monkeypatch.setattr(generate_module, '_write', filling)
    with pytest.raises(OSError) as err:
        generate_benchmark(root, workers=1, progress=False, **TINY)
    assert err.value.errno == errno.ENOSPC
    message = str(err.value)
    assert f'no space left on device under {tmp_path}' in message
    assert 'needs about' in message and 'MB' in message
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_half_written_or_stale_folder_is_regenerated(tmp_path):
    root = tmp_path / 'synthetic'
    (root / 'cityscapes').mkdir(parents=True)  # no .complete.json
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # a half-written folder: no notice
        ensure_benchmark(root, workers=1, progress=False, severity=1.0,
                         **TINY)
    assert is_complete(root, severity=1.0, **TINY)
    changed = dict(TINY, seed=TINY['seed'] + 1, severity=dict(
        fog=0.5, night=0.8, rain=0.3, snow=0.3))
    assert not is_complete(root, **changed)
    # replacing a complete benchmark says what differs
    with pytest.warns(UserWarning, match=r'other parameters \(seed: 3 -> 4, '
                      r"severity: 1.0 -> \{'fog': 0.5"):
        ensure_benchmark(root, workers=1, progress=False, **changed)
    assert is_complete(root, **changed)


def test_foreign_folder_is_never_overwritten(tmp_path):
    (tmp_path / 'notes.txt').write_text('precious')
    with pytest.raises(FileExistsError, match='notes.txt'):
        generate_benchmark(tmp_path, workers=1, progress=False, **TINY)
    assert (tmp_path / 'notes.txt').read_text() == 'precious'


def test_save_preview(bench, tmp_path):
    out = save_preview(bench, tmp_path / 'preview.png')
    assert out.is_file() and out.stat().st_size > 0
