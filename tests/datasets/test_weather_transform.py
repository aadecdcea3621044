"""SyntheticWeather re-renders the generated benchmark; severity schedules."""
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from mmcv.transforms import Compose
from mmengine.config import Config

from tta_seg.datasets import severity_schedule
from tta_seg.datasets.depth_codec import (depth_from_planes, depth_to_planes,
                                          read_depth)
from tta_seg.datasets.synthetic import CONDITIONS, generate_benchmark
from tta_seg.datasets.synthetic.generate import (Task, acdc_depth_path,
                                                 acdc_paths, benchmark_params,
                                                 is_complete,
                                                 normalize_severity,
                                                 read_complete, render_task)
from tta_seg.datasets.weather_transform import (describe_weather,
                                                level_to_severity)
from tta_seg.registry import DATASETS, TRANSFORMS

SEED = 3  # not the default: the transform must be told the seed
SMALL = dict(num_train=1, num_val=1, num_target_train=3, num_target_val=1,
             width=128, height=64, seed=SEED)


@pytest.fixture(scope='module')
def bench(tmp_path_factory):
    root = tmp_path_factory.mktemp('weather') / 'synthetic'
    # severity 1 stated, not the default: the tests below read it back
    return generate_benchmark(root, workers=1, progress=False, severity=1.0,
                              **SMALL)


def twins(bench, condition, split='train', weather=True, **kwargs):
    """Clear twins of ``condition`` through LoadCheckedImage, then
    SyntheticWeather(condition, **kwargs) if ``weather``."""
    pipeline = [dict(type='LoadCheckedImage')]
    if weather:
        pipeline.append(dict(type='SyntheticWeather', condition=condition,
                             **kwargs))
    return DATASETS.build(dict(
        type='ACDCDataset', data_root=str(bench / 'acdc'), split=split,
        condition=condition, use_ref=True, pipeline=pipeline))


def adverse_bgr(bench, condition, split, index):
    return cv2.imread(str(acdc_paths(bench, condition, split, index)[0]))


# -- depth storage ---------------------------------------------------------
def test_depth_codec_is_bit_exact():
    depth = np.random.default_rng(0).uniform(0.5, 90, (7, 5)).astype(
        np.float32)
    depth[0, :] = 1000.0  # the sky
    depth[1, 1] = np.nextafter(np.float32(3), np.float32(4))
    planes = depth_to_planes(depth)
    assert planes.shape == (28, 5) and planes.dtype == np.uint8
    back = depth_from_planes(planes)
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back.view(np.uint32),
                                  depth.view(np.uint32))


@pytest.mark.slow
def test_benchmark_stores_the_depth_the_weather_used(bench):
    for condition in CONDITIONS:
        task = Task('val', condition, 0)
        depth = render_task(task, benchmark_params(**SMALL))[2]
        stored = read_depth(acdc_depth_path(bench, condition, 'val', 0))
        np.testing.assert_array_equal(stored.view(np.uint32),
                                      depth.view(np.uint32))


# -- the transform at the generation severity ----------------------------
@pytest.mark.parametrize('condition', CONDITIONS)
@pytest.mark.parametrize('split', ['train', 'val'])
def test_generation_severity_reproduces_the_generated_images(
        bench, condition, split):
    dataset = twins(bench, condition, split, seed=SEED)
    for index in range(len(dataset)):
        results = dataset[index]
        clean = cv2.imread(results['img_path'])
        assert not np.array_equal(results['img'], clean)
        np.testing.assert_array_equal(
            results['img'], adverse_bgr(bench, condition, split, index))
        assert results['weather_severity'] == 1.0


PER_CONDITION = dict(fog=0.5, night=0.8, rain=1.0, snow=1.3)


@pytest.mark.slow
def test_a_severity_per_condition_is_recorded_and_rendered(tmp_path):
    """Each condition's images are rendered at its own severity: the
    transform at that severity reproduces them, at 1.0 it does not."""
    small = dict(SMALL, num_target_train=1, num_target_val=1)
    root = generate_benchmark(tmp_path / 'synthetic', workers=1,
                              progress=False, severity=PER_CONDITION,
                              **small)
    record = read_complete(root)
    assert record['params']['severity'] == PER_CONDITION
    for condition, severity in PER_CONDITION.items():
        generated = adverse_bgr(root, condition, 'train', 0)
        own = twins(root, condition, seed=SEED, severity=severity)[0]
        np.testing.assert_array_equal(own['img'], generated)
        # by default, the transform renders at the benchmark's own severity
        default = twins(root, condition, seed=SEED)[0]
        np.testing.assert_array_equal(default['img'], generated)
        assert default['weather_severity'] == severity
        if severity != 1.0:
            other = twins(root, condition, seed=SEED, severity=1.0)[0]
            assert not np.array_equal(other['img'], generated)
    assert is_complete(root, severity=PER_CONDITION, **small)
    assert not is_complete(root, severity=1.0, **small)


@pytest.mark.slow
def test_without_a_generation_record_the_default_severity_is_used(
        bench, tmp_path, monkeypatch):
    from tta_seg.datasets.synthetic import generate
    copy = tmp_path / 'copy'
    shutil.copytree(bench, copy)
    (copy / generate.COMPLETE_FILE).unlink()
    monkeypatch.setattr(generate, 'DEFAULT_SEVERITY', dict(
        fog=1.0, night=1.0, rain=0.5, snow=1.0))
    default = twins(copy, 'rain', seed=SEED)[0]
    assert default['weather_severity'] == 0.5
    np.testing.assert_array_equal(
        default['img'], twins(copy, 'rain', seed=SEED, severity=0.5)[0]['img'])


def test_severity_spellings_and_bad_severities():
    assert normalize_severity(0.7) == 0.7
    assert normalize_severity({c: 0.7 for c in CONDITIONS}) == 0.7
    assert benchmark_params(severity={c: 2 for c in CONDITIONS}) == \
        benchmark_params(severity=2.0)
    with pytest.raises(ValueError, match=r"missing \['snow'\], unknown "
                       r"\['hail'\]"):
        normalize_severity(dict(fog=1, night=1, rain=1, hail=1))
    with pytest.raises(ValueError, match='>= 0'):
        normalize_severity(dict(PER_CONDITION, night=-0.1))
    with pytest.raises(ValueError, match='>= 0'):
        normalize_severity(float('nan'))


def test_make_synthetic_parses_one_or_four_severities():
    from tta_seg.cli import make_synthetic
    assert make_synthetic.parse_severity(['0.8']) == 0.8
    items = [f'{c}={s}' for c, s in PER_CONDITION.items()]
    assert make_synthetic.parse_severity(items) == PER_CONDITION
    for bad in (['fog=1', 'fog=1'], ['fog'] + items[1:], items[:3]):
        with pytest.raises(ValueError):
            make_synthetic.parse_severity(bad)


def test_the_seed_decides_the_weather(bench):
    image = twins(bench, 'rain', seed=SEED + 1)[0]['img']
    assert not np.array_equal(image, adverse_bgr(bench, 'rain', 'train', 0))


def test_only_clear_twins_of_the_benchmark_are_accepted(bench):
    weather = TRANSFORMS.build(dict(type='SyntheticWeather',
                                    condition='fog', seed=SEED))
    adverse_path = acdc_paths(bench, 'fog', 'train', 0)[0]
    results = dict(img=cv2.imread(str(adverse_path)),
                   img_path=str(adverse_path))
    with pytest.raises(ValueError, match='clear-weather twin'):
        weather(results)


def test_weather_after_a_resize_is_refused(bench):
    dataset = twins(bench, 'fog', weather=False)
    results = dataset[0]
    results['img'] = cv2.resize(results['img'], (64, 32))
    weather = TRANSFORMS.build(dict(type='SyntheticWeather',
                                    condition='fog'))
    with pytest.raises(ValueError, match='before any resize'):
        weather(results)


# -- severity levels and schedules ---------------------------------------
def test_triangle_schedule_matches_hand_computed_levels():
    np.testing.assert_allclose(severity_schedule('triangle', 9, 1, 5),
                               [1, 2, 3, 4, 5, 4, 3, 2, 1])
    # even count: no middle image, the peak is not reached
    np.testing.assert_allclose(severity_schedule('triangle', 4, 1, 5),
                               [1, 11 / 3, 11 / 3, 1])
    np.testing.assert_allclose(severity_schedule('triangle', 1, 1, 5), [1])


def test_ramp_and_constant_schedules():
    np.testing.assert_allclose(severity_schedule('ramp', 5, 1, 3),
                               [1, 1.5, 2, 2.5, 3])
    np.testing.assert_allclose(severity_schedule('ramp', 3, 5, 1),
                               [5, 3, 1])
    np.testing.assert_allclose(severity_schedule('constant', 3, 1, 4),
                               [4, 4, 4])


@pytest.mark.parametrize('args', [('sine', 3), ('ramp', 0), ('ramp', 3, -1)])
def test_bad_schedules_are_refused(args):
    with pytest.raises(ValueError):
        severity_schedule(*args)


def test_level_five_is_the_reference_severity():
    assert level_to_severity(5) == 1.0
    assert level_to_severity(1) == pytest.approx(0.2)
    assert level_to_severity(5, reference=1.5) == 1.5


@pytest.mark.slow
def test_schedule_follows_the_position_in_the_domain(bench):
    """3 images, triangle 1 -> 5 -> 1: the middle one is the generated
    image, the outer ones are rendered at level 1 (severity 0.2)."""
    schedule = dict(type='triangle', low=1, high=5, num_images=3)
    dataset = twins(bench, 'snow', seed=SEED, schedule=schedule)
    middle = dataset[1]
    assert middle['weather_severity'] == 1.0
    np.testing.assert_array_equal(middle['img'],
                                  adverse_bgr(bench, 'snow', 'train', 1))
    weak = twins(bench, 'snow', seed=SEED, severity=0.2)[0]
    first = dataset[0]
    assert first['weather_severity'] == pytest.approx(0.2)
    np.testing.assert_array_equal(first['img'], weak['img'])


def test_a_schedule_shorter_than_the_domain_is_refused(bench):
    schedule = dict(type='triangle', num_images=2)
    dataset = twins(bench, 'fog', seed=SEED, schedule=schedule)
    dataset[1]
    with pytest.raises(ValueError, match='num_images'):
        dataset[2]


@pytest.mark.slow
@pytest.mark.parametrize('condition', CONDITIONS)
def test_higher_severity_changes_the_image_more(bench, condition):
    clean = twins(bench, condition, weather=False)
    changes = []
    for level in range(1, 6):
        dataset = twins(bench, condition, seed=SEED,
                        severity=level_to_severity(level))
        changes.append(np.mean([
            np.abs(dataset[i]['img'].astype(float) - clean[i]['img']).mean()
            for i in range(len(dataset))]))
    assert np.all(np.diff(changes) > 0), changes


@pytest.mark.slow
def test_building_the_transform_imports_the_generator():
    """``import tta_seg.datasets`` stays light; building pulls it in."""
    code = (
        'import sys, tta_seg.datasets\n'
        'from tta_seg.registry import TRANSFORMS\n'
        'cls = TRANSFORMS.get("SyntheticWeather")\n'
        'assert "tta_seg.datasets.synthetic.generate" not in sys.modules\n'
        'cls("fog")\n'
        'assert "tta_seg.datasets.synthetic.generate" in sys.modules\n')
    repo = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, '-c', code], cwd=repo,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


def test_pipeline_composes_with_resize_after_weather(bench):
    pipeline = Compose([
        dict(type='SyntheticWeather', condition='night', seed=SEED),
        dict(type='Resize', scale=(64, 32), keep_ratio=True)])
    results = twins(bench, 'night', weather=False)[0]
    out = pipeline(results)
    assert out['img'].shape == (32, 64, 3)


def test_gradual_stream_config_describes_its_weather():
    cfg = Config.fromfile(str(Path(__file__).resolve().parents[2] /
                              'configs/_base_/streams/synthetic_gradual.py'))
    described = [describe_weather(d['dataset']['pipeline'])
                 for d in cfg.test_cfg.domains]
    assert [d['condition'] for d in described] == list(CONDITIONS)
    schedule = dict(type='triangle', low=1, high=5, num_images=50)
    assert all(d['schedule'] == schedule and d['severity'] is None and
               d['seed'] == 0 for d in described)
    assert all(d['dataset']['max_images'] == 50 and d['dataset']['use_ref']
               for d in cfg.test_cfg.domains)
    assert describe_weather(cfg.test_cfg.source.dataset.pipeline) is None
