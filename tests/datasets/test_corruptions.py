"""The Corruption transform (ImageNet-C corruptions) and its stream configs."""
import copy
import os.path as osp
import subprocess
import sys
import types

import numpy as np
import pytest
from mmengine.config import Config

from tests.tiny import H, W, tiny_dataset_cfg, write_tiny_cityscapes
from tta_seg.apis.config import REPO_ROOT
from tta_seg.datasets import corruptions as corruptions_module
from tta_seg.datasets.corruptions import (CORRUPTION_GROUPS, CORRUPTIONS,
                                          SEVERITIES, Corruption,
                                          corrupt_rgb, image_seed)
from tta_seg.registry import DATASETS, TRANSFORMS

#: Corruptions that draw random numbers (the others are deterministic maps).
RANDOM = ('gaussian_noise', 'shot_noise', 'impulse_noise', 'glass_blur',
          'motion_blur', 'snow', 'frost', 'fog', 'elastic_transform')
#: Mean absolute deviation from the clean image grows with the severity for
#: these on the test image and on the synthetic val images (not for frost,
#: snow or glass blur, whose levels trade one effect against another, nor
#: for pixelate on an image with a fine stripe pattern).
MONOTONE = ('gaussian_noise', 'shot_noise', 'impulse_noise', 'defocus_blur',
            'brightness', 'contrast', 'jpeg_compression')
STREAMS = ('synthetic_corruptions.py', 'cityscapes_c.py')
PATH = '/data/leftImg8bit/val/city/city_000000_000001_leftImg8bit.png'


def scene(height: int = 64, width: int = 96) -> np.ndarray:
    """A smooth coloured BGR image with a few edges (blurs need texture,
    noise needs room below 255)."""
    y, x = np.mgrid[:height, :width]
    img = np.stack([40 + 120 * x / width, 60 + 100 * y / height,
                    np.full((height, width), 90.0)], axis=-1)
    img[height // 4:height // 2, width // 3:2 * width // 3] = (30, 160, 200)
    img[::8] += 25  # horizontal stripes
    return img.clip(0, 255).astype(np.uint8)


def results(img=None, path=PATH) -> dict:
    img = scene() if img is None else img
    return dict(img=img.copy(), img_path=path, img_shape=img.shape[:2],
                ori_shape=img.shape[:2])


def apply(corruption, severity=3, seed=0, **kwargs) -> np.ndarray:
    transform = Corruption(corruption, severity, seed=seed)
    return transform(results(**kwargs))['img']


def mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(float) - b.astype(float)).mean())


def test_the_fifteen_corruptions_in_their_groups():
    assert len(CORRUPTIONS) == 15 and len(set(CORRUPTIONS)) == 15
    assert [len(g) for g in CORRUPTION_GROUPS.values()] == [3, 4, 4, 4]
    assert CORRUPTIONS[0] == 'gaussian_noise'
    assert CORRUPTIONS[-1] == 'jpeg_compression'


@pytest.mark.slow
@pytest.mark.parametrize('severity', (1, 5))
@pytest.mark.parametrize('corruption', CORRUPTIONS)
def test_changes_image_keeps_shape_and_dtype(corruption, severity):
    clean = scene()
    out = apply(corruption, severity)
    assert out.shape == clean.shape and out.dtype == np.uint8
    assert out.flags['C_CONTIGUOUS']
    assert mad(out, clean) > 0.5


@pytest.mark.parametrize('corruption', CORRUPTIONS)
def test_same_seed_and_image_same_corruption(corruption):
    first = apply(corruption, seed=3)
    # another transform, another global RNG state, another data root
    np.random.seed(12345)
    again = apply(corruption, seed=3,
                  path=PATH.replace('/data/', '/elsewhere/'))
    np.testing.assert_array_equal(first, again)


@pytest.mark.parametrize('corruption', RANDOM)
def test_another_seed_or_image_another_draw(corruption):
    base = apply(corruption, seed=0)
    assert not np.array_equal(base, apply(corruption, seed=1))
    other = PATH.replace('000001', '000002')
    assert not np.array_equal(base, apply(corruption, seed=0, path=other))


@pytest.mark.parametrize('corruption', ('gaussian_noise', 'frost'))
def test_numpy_global_state_is_restored(corruption):
    np.random.seed(7)
    expected = np.random.rand(4)
    np.random.seed(7)
    apply(corruption)
    np.testing.assert_array_equal(np.random.rand(4), expected)


def test_same_noise_pattern_across_severities():
    """The seed ignores the severity: impulse noise of severity 5 hits every
    pixel that severity 1 hit (its amount grows, its draws stay)."""
    clean = scene()
    mild, strong = (apply('impulse_noise', s) != clean for s in (1, 5))
    assert mild.any() and strong[mild].mean() > 0.99


@pytest.mark.parametrize('corruption', MONOTONE)
def test_severity_increases_deviation(corruption):
    clean = scene()
    deviations = [mad(apply(corruption, s), clean) for s in SEVERITIES]
    assert np.all(np.diff(deviations) > 0), deviations


@pytest.mark.parametrize('corruption', ('snow', 'frost'))
def test_library_sees_rgb(corruption):
    """snow mixes in a luma-weighted grey and frost overlays blue-white
    ice: both differ between channel orders, so a missing BGR->RGB swap
    shows."""
    clean = scene()
    rng_seed = image_seed(0, corruption, osp.basename(PATH))
    out = Corruption(corruption, 4)(results(clean))['img']
    via_rgb = corrupt_rgb(clean[..., ::-1].copy(), corruption, 4, rng_seed)
    np.testing.assert_array_equal(out, via_rgb[..., ::-1])
    bgr_as_rgb = corrupt_rgb(clean.copy(), corruption, 4, rng_seed)
    assert mad(out, bgr_as_rgb) > 1


@pytest.mark.parametrize('name', ('gaussian', 'Fog', 'speckle_noise', ''))
def test_unknown_corruption_names_the_valid_ones(name):
    with pytest.raises(ValueError, match='gaussian_noise, shot_noise, '
                       r'.*, jpeg_compression\.'):
        Corruption(name, 3)


@pytest.mark.parametrize('severity', (0, 6, -1, 2.0, True, '3', None))
def test_invalid_severity_names_the_valid_ones(severity):
    with pytest.raises(ValueError, match=r'\[1, 2, 3, 4, 5\]'):
        Corruption('fog', severity)


def test_invalid_seed_is_refused():
    with pytest.raises(ValueError, match='seed must be an integer'):
        Corruption('fog', 3, seed=0.5)


@pytest.mark.parametrize('img, match', [
    (scene().astype(np.float32), 'H x W x 3 uint8'),
    (scene()[..., 0], 'H x W x 3 uint8'),
    (scene(16, 96), 'at least 32 px'),
])
def test_unusable_image_names_the_file(img, match):
    with pytest.raises(ValueError, match=match) as err:
        Corruption('fog', 3)(results(img))
    assert PATH in str(err.value)


def test_index_seeds_images_without_a_file():
    res = dict(img=scene(), sample_idx=4)
    out = Corruption('gaussian_noise', 3)(res)['img']
    np.testing.assert_array_equal(out, Corruption('gaussian_noise', 3)(
        dict(img=scene(), sample_idx=4))['img'])
    assert not np.array_equal(out, Corruption('gaussian_noise', 3)(
        dict(img=scene(), sample_idx=5))['img'])
    with pytest.raises(KeyError, match='img_path'):
        Corruption('gaussian_noise', 3)(dict(img=scene()))


def test_bethgelab_package_in_its_place_is_refused(monkeypatch):
    """bethgelab's imagecorruptions has the same module name; its
    glass_blur takes no seed."""
    fake = types.ModuleType('imagecorruptions')
    fake.corruption_dict = dict(glass_blur=lambda x, severity=1: x)
    monkeypatch.setitem(sys.modules, 'imagecorruptions', fake)
    corruptions_module.load_library.cache_clear()
    try:
        with pytest.raises(ImportError, match='pip uninstall -y '
                           'imagecorruptions && pip install '
                           'imagecorruptions-imaug'):
            Corruption('fog', 3)
    finally:
        corruptions_module.load_library.cache_clear()


def test_missing_library_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, 'imagecorruptions', None)
    corruptions_module.load_library.cache_clear()
    try:
        with pytest.raises(ImportError,
                           match='pip install imagecorruptions-imaug'):
            Corruption('fog', 3)
    finally:
        corruptions_module.load_library.cache_clear()


@pytest.mark.slow
def test_registered_and_library_imported_lazily():
    """Registered for the TRANSFORMS registry's lazy location; importing
    tta_seg.datasets does not import the library (numba, scikit-image)."""
    assert TRANSFORMS.get('Corruption') is Corruption
    code = ('import sys, tta_seg.datasets; '
            'print("imagecorruptions" in sys.modules, "numba" in '
            'sys.modules)')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, check=True, cwd=REPO_ROOT)
    assert out.stdout.split() == ['False', 'False']


def _pipeline(corruption=None):
    steps = [dict(type='LoadCheckedImage'),
             dict(type='Resize', scale=(W // 2, H // 2), keep_ratio=True),
             dict(type='LoadCheckedAnnotations'),
             dict(type='PackSegInputs')]
    if corruption:
        steps.insert(1, dict(type='Corruption', corruption=corruption,
                             severity=5))
    return steps


@pytest.mark.slow
@pytest.mark.parametrize('corruption', ('fog', 'glass_blur'))
def test_in_a_cityscapes_pipeline(tmp_path, corruption):
    root = write_tiny_cityscapes(str(tmp_path))
    cfg = dict(tiny_dataset_cfg(root, 'val'), pipeline=_pipeline(corruption))
    clean_cfg = dict(cfg, pipeline=_pipeline())
    dataset, clean = DATASETS.build(cfg), DATASETS.build(clean_cfg)
    sample, reference = dataset[1], clean[1]
    assert tuple(sample['inputs'].shape) == (3, H // 2, W // 2)
    assert not torch_equal(sample['inputs'], reference['inputs'])
    # labels are untouched and scored at the original size
    assert torch_equal(sample['data_samples'].gt_sem_seg.data,
                       reference['data_samples'].gt_sem_seg.data)
    assert torch_equal(dataset[1]['inputs'], sample['inputs'])


def torch_equal(a, b) -> bool:
    return a.shape == b.shape and bool((a == b).all())


@pytest.mark.parametrize('stream', STREAMS)
def test_stream_configs_one_domain_per_corruption(stream):
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs/_base_/streams',
                                   stream))
    domains = cfg.test_cfg.domains
    assert [d.name for d in domains] == list(CORRUPTIONS)
    assert cfg.test_cfg.rounds == 1 and cfg.test_cfg.reset == 'never'
    for domain in domains:
        types_ = [step.type for step in domain.dataset.pipeline]
        # corruptions are defined at the original resolution
        assert types_[:3] == ['LoadCheckedImage', 'Corruption', 'Resize']
        step = domain.dataset.pipeline[1]
        assert (step.corruption, step.severity) == (domain.name, 5)
        TRANSFORMS.build(copy.deepcopy(step))
    source = cfg.test_cfg.source.dataset
    assert 'Corruption' not in [s.type for s in source.pipeline]
    assert domains[0].dataset.data_root == source.data_root
