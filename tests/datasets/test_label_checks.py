"""LoadCheckedAnnotations refuses labels that would silently skew mIoU."""
import cv2
import numpy as np
import pytest

from tta_seg.datasets.checks import LoadCheckedAnnotations

SHAPE = (8, 12)


def write_label(tmp_path, array, name='x_gtFine_labelTrainIds.png'):
    path = tmp_path / name
    assert cv2.imwrite(str(path), array)
    return str(path)


def load(path, transform=None, **results):
    transform = transform or LoadCheckedAnnotations()
    info = dict(seg_map_path=path, reduce_zero_label=False, seg_fields=[],
                ori_shape=SHAPE)
    info.update(results)
    return transform(info)


def trainid_label():
    label = np.arange(np.prod(SHAPE), dtype=np.uint8).reshape(SHAPE) % 19
    label[0] = 255
    return label


def test_valid_trainids_load_unchanged(tmp_path):
    label = trainid_label()
    out = load(write_label(tmp_path, label))
    np.testing.assert_array_equal(out['gt_seg_map'], label)
    assert out['num_remapped_pixels'] == 0


def test_out_of_range_ids_name_file_ids_and_pixels(tmp_path):
    label = trainid_label()
    label[1:3] = 100  # 24 pixels
    label[3, :5] = 19  # 5 pixels: one past the last Cityscapes class
    path = write_label(tmp_path, label)
    with pytest.raises(ValueError) as err:
        load(path)
    message = str(err.value)
    assert path in message
    assert '100 (24 px)' in message and '19 (5 px)' in message
    assert '29 of 96 pixels' in message
    assert 'labelTrainIds' in message and 'id_map' in message


def test_every_pixel_100_is_refused(tmp_path):
    path = write_label(tmp_path, np.full(SHAPE, 100, np.uint8))
    with pytest.raises(ValueError, match='100 \\(96 px\\)'):
        load(path)


def test_colour_label_names_file_and_expected_format(tmp_path):
    colour = np.dstack([trainid_label()] * 2 + [np.zeros(SHAPE, np.uint8)])
    path = write_label(tmp_path, colour, 'x_gtFine_color.png')
    with pytest.raises(ValueError) as err:
        load(path)
    message = str(err.value)
    assert path in message
    assert 'single-channel' in message and 'labelTrainIds' in message


def test_id_map_is_applied_before_the_check_and_counted(tmp_path):
    raw = trainid_label()
    raw[1] = 100  # 12 pixels
    raw[2, :3] = 7  # 3 pixels, mapped onto themselves below: not counted
    transform = LoadCheckedAnnotations(id_map={100: 255, 7: 7})
    path = write_label(tmp_path, raw)
    out = load(path, transform)
    expected = raw.copy()
    expected[1] = 255
    np.testing.assert_array_equal(out['gt_seg_map'], expected)
    assert out['num_remapped_pixels'] == 12
    load(path, transform)
    assert transform.num_remapped_pixels == 24
    with pytest.raises(ValueError, match='id_map'):
        LoadCheckedAnnotations(id_map={300: 0})


def test_num_classes_explicit_or_from_the_datasets_label_map(tmp_path):
    label = trainid_label()
    label[1] = 40
    path = write_label(tmp_path, label)
    load(path, LoadCheckedAnnotations(num_classes=41))
    with pytest.raises(ValueError, match='40 \\(12 px\\)'):
        load(path, LoadCheckedAnnotations(num_classes=40))
    # a dataset keeping 3 of its classes: mmseg maps the rest to 255
    label_map = {0: 0, 1: 255, 2: 1, 3: 2, 4: 255}
    small = np.array([[0, 1, 2, 3, 4, 255]] * 2, np.uint8)
    out = load(write_label(tmp_path, small, 's.png'), label_map=label_map,
               ori_shape=small.shape)
    np.testing.assert_array_equal(out['gt_seg_map'][0],
                                  [0, 255, 1, 2, 255, 255])
    small[0, 0] = 5  # not a class of the dataset: left as 5 by mmseg
    with pytest.raises(ValueError, match='3 classes'):
        load(write_label(tmp_path, small, 's.png'), label_map=label_map,
             ori_shape=small.shape)


def test_reduce_zero_label_is_unchanged_and_checked_after(tmp_path):
    raw = np.array([[0, 1, 19, 255]] * 2, np.uint8)
    path = write_label(tmp_path, raw)
    out = load(path, reduce_zero_label=True, ori_shape=raw.shape)
    np.testing.assert_array_equal(out['gt_seg_map'][0], [255, 0, 18, 255])
    raw[0, 0] = 20  # becomes 19 after the reduction: outside 19 classes
    with pytest.raises(ValueError, match='19 \\(1 px\\)'):
        load(write_label(tmp_path, raw), reduce_zero_label=True,
             ori_shape=raw.shape)
