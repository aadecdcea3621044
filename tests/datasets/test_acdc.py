"""ACDCDataset, data-root checks and the checked loading transforms."""
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from mmengine.registry import init_default_scope

from tta_seg.datasets.synthetic import acdc_paths, generate_benchmark
from tta_seg.registry import DATASETS

TINY = dict(num_train=2, num_val=1, num_target_train=2, num_target_val=1,
            width=64, height=32, seed=5)
PIPELINE = [dict(type='LoadCheckedImage'),
            dict(type='LoadCheckedAnnotations'),
            dict(type='PackSegInputs')]


@pytest.fixture(scope='module')
def bench(tmp_path_factory):
    root = tmp_path_factory.mktemp('acdc_bench') / 'synthetic'
    return generate_benchmark(root, workers=1, progress=False, **TINY)


@pytest.fixture
def acdc_copy(bench, tmp_path):
    """A private copy of the ACDC part, for tests that damage files."""
    return shutil.copytree(bench / 'acdc', tmp_path / 'acdc')


def build(data_root, **kwargs):
    init_default_scope('tta_seg')
    cfg = dict(type='ACDCDataset', data_root=str(data_root),
               pipeline=PIPELINE)
    cfg.update(kwargs)
    return DATASETS.build(cfg)


@pytest.mark.slow
def test_acdc_loads_with_checked_pipeline(bench):
    dataset = build(bench / 'acdc', condition='fog', split='train')
    assert len(dataset) == TINY['num_target_train']
    assert dataset.metainfo['classes'][0] == 'road'
    sample = dataset[0]
    assert tuple(sample['inputs'].shape) == (3, 32, 64)
    labels = sample['data_samples'].gt_sem_seg.data
    assert tuple(labels.shape) == (1, 32, 64)
    assert set(labels.unique().tolist()) <= set(range(19)) | {255}
    paths = [dataset.get_data_info(i)['img_path']
             for i in range(len(dataset))]
    assert paths == sorted(paths)
    assert paths[0] == str(acdc_paths(bench, 'fog', 'train', 0)[0])


def test_cityscapes_source_loads(bench):
    init_default_scope('tta_seg')
    dataset = DATASETS.build(dict(
        type='CityscapesDataset', data_root=str(bench / 'cityscapes'),
        data_prefix=dict(img_path='leftImg8bit/train',
                         seg_map_path='gtFine/train'),
        pipeline=PIPELINE))
    assert len(dataset) == TINY['num_train']
    assert tuple(dataset[0]['data_samples'].gt_sem_seg.data.shape) == (1, 32,
                                                                       64)


@pytest.mark.slow
def test_use_ref_loads_clear_twins_with_same_labels(bench):
    adverse = build(bench / 'acdc', condition='night', split='train')
    ref = build(bench / 'acdc', condition='night', split='train',
                use_ref=True)
    assert len(ref) == len(adverse)
    info = ref.get_data_info(0)
    assert '/night/train_ref/' in info['img_path']
    assert info['img_path'].endswith('_rgb_ref_anon.png')
    assert info['seg_map_path'] == adverse.get_data_info(0)['seg_map_path']
    assert not np.array_equal(ref[0]['inputs'].numpy(),
                              adverse[0]['inputs'].numpy())


@pytest.mark.slow
def test_max_images_keeps_first_sorted(bench):
    full = build(bench / 'acdc', condition='rain', split='train')
    first = build(bench / 'acdc', condition='rain', split='train',
                  max_images=1)
    assert len(full) == 2 and len(first) == 1
    assert (first.get_data_info(0)['img_path'] ==
            full.get_data_info(0)['img_path'])


def test_test_split_has_no_labels(acdc_copy):
    shutil.copytree(acdc_copy / 'rgb_anon' / 'snow' / 'train',
                    acdc_copy / 'rgb_anon' / 'snow' / 'test')
    dataset = build(acdc_copy, condition='snow', split='test',
                    pipeline=[dict(type='LoadCheckedImage')])
    assert len(dataset) == TINY['num_target_train']
    assert 'seg_map_path' not in dataset.get_data_info(0)


def test_missing_root_names_path_and_remedy(tmp_path):
    missing = tmp_path / 'nowhere'
    with pytest.raises(FileNotFoundError) as err:
        build(missing, condition='fog')
    message = str(err.value)
    assert str(missing) in message
    assert 'acdc.vision.ee.ethz.ch' in message
    assert 'make_synthetic.py' in message
    assert 'rgb_anon' in message


def test_empty_image_folder_names_it(tmp_path):
    folder = tmp_path / 'rgb_anon' / 'fog' / 'val'
    folder.mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match='holds no') as err:
        build(tmp_path, condition='fog', split='val')
    assert str(folder) in str(err.value)


def test_missing_label_names_file(acdc_copy):
    label = acdc_paths(acdc_copy.parent, 'fog', 'train', 1)[2]
    label.unlink()
    with pytest.raises(FileNotFoundError) as err:
        build(acdc_copy, condition='fog', split='train')
    assert str(label) in str(err.value)


def test_unreadable_image_names_file(acdc_copy):
    image = acdc_paths(acdc_copy.parent, 'fog', 'train', 0)[0]
    image.write_bytes(b'this is not a png')
    dataset = build(acdc_copy, condition='fog', split='train')
    with pytest.raises(IOError) as err:
        dataset[0]
    assert str(image) in str(err.value)


def test_label_size_mismatch_names_file_and_shapes(acdc_copy):
    label = acdc_paths(acdc_copy.parent, 'fog', 'train', 0)[2]
    cv2.imwrite(str(label), np.zeros((16, 40), np.uint8))
    dataset = build(acdc_copy, condition='fog', split='train')
    with pytest.raises(ValueError) as err:
        dataset[0]
    message = str(err.value)
    assert str(label) in message
    assert '16x40' in message and '32x64' in message


def test_label_with_foreign_ids_names_file(acdc_copy):
    label = acdc_paths(acdc_copy.parent, 'fog', 'train', 0)[2]
    cv2.imwrite(str(label), np.full((32, 64), 100, np.uint8))
    dataset = build(acdc_copy, condition='fog', split='train')
    with pytest.raises(ValueError) as err:
        dataset[0]
    message = str(err.value)
    assert str(label) in message and '100 (2048 px)' in message


def test_bad_arguments_are_rejected(bench):
    with pytest.raises(ValueError, match='condition'):
        build(bench / 'acdc', condition='haze')
    with pytest.raises(ValueError, match='split'):
        build(bench / 'acdc', split='training')
    with pytest.raises(ValueError, match='data_prefix'):
        build(bench / 'acdc', data_prefix=dict(img_path='x'))


@pytest.mark.slow
def test_importing_datasets_does_not_import_the_generator():
    """Real ACDC needs nothing of the synthetic renderer, whose conditions
    stay ACDC's. A clean interpreter: this process has imported it."""
    code = (
        'import sys, tta_seg.datasets as d\n'
        'from tta_seg.registry import DATASETS\n'
        'DATASETS.get("ACDCDataset")\n'
        'assert not [m for m in sys.modules if ".synthetic" in m]\n'
        'assert callable(d.synthetic.ensure_benchmark)  # lazy, still there\n'
        'assert "tta_seg.datasets.synthetic.generate" in sys.modules\n'
        'assert d.synthetic.CONDITIONS == d.acdc.CONDITIONS\n')
    repo = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, '-c', code], cwd=repo,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
