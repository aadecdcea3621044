"""Input checks with messages that say what is wrong and how to fix it.

* :func:`check_data_root` raises a ``FileNotFoundError`` naming the missing
  or empty folder, the expected layout and where to get the data.
* :class:`LoadCheckedImage` and :class:`LoadCheckedAnnotations` are drop-in
  replacements of mmcv's ``LoadImageFromFile`` and mmseg's
  ``LoadAnnotations`` that name the offending file when it is missing,
  cannot be decoded, or (for labels) does not match its image's size, has
  several channels or holds ids outside the classes, instead of failing
  later with an anonymous shape or ``NoneType`` error or silently lowering
  the mIoU.
"""
import os.path as osp
from pathlib import Path
from typing import Dict, Optional

import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmseg.datasets.transforms import LoadAnnotations

from tta_seg.registry import TRANSFORMS

#: Classes of Cityscapes/ACDC trainId labels, the default label range.
DEFAULT_NUM_CLASSES = 19
#: mmseg's id of unlabelled pixels.
IGNORE_INDEX = 255
#: Labels are loaded as uint8.
MAX_LABEL_ID = 255
#: Offending label ids listed in an error message.
MAX_LISTED_IDS = 8

#: Expected ACDC layout and how to obtain it (for error messages).
ACDC_HINT = (
    'Expected the ACDC layout {root}/rgb_anon/{{fog,night,rain,snow}}/'
    '{{train,val,test}}[_ref]/GOPRxxxx/*_rgb_anon.png and {root}/gt/'
    '{{cond}}/{{train,val}}/GOPRxxxx/*_gt_labelTrainIds.png. Download ACDC '
    'from https://acdc.vision.ee.ethz.ch and unpack '
    'rgb_anon_trainvaltest.zip and gt_trainval.zip into {root}, or run '
    '`python tools/make_synthetic.py` for the embedded synthetic benchmark '
    '(then use <out>/acdc as data_root).')


def acdc_hint(root) -> str:
    """:data:`ACDC_HINT` for a given data root."""
    return ACDC_HINT.format(root=root if root is not None else '<root>')


def _is_local(path: str) -> bool:
    """Paths with a URI scheme (s3://, http://) live on other backends."""
    return '://' not in str(path)


def check_data_root(path, hint: str, suffix: Optional[str] = None) -> Path:
    """Check that ``path`` is a folder (holding ``*suffix`` files if given).

    Args:
        path (str | Path): Folder to check.
        hint (str): Expected layout and how to get the data; appended to
            the error message.
        suffix (str, optional): If given, the folder must contain at least
            one file (at any depth) whose name ends with it.

    Returns:
        Path: ``path``.

    Raises:
        FileNotFoundError: Naming ``path`` and what is wrong, plus ``hint``.
    """
    if path is None:
        raise FileNotFoundError(f'No data root given (data_root=None). '
                                f'{hint}')
    path = Path(path)
    if not _is_local(str(path)):
        return path
    if not path.is_dir():
        raise FileNotFoundError(f'Data folder {path} does not exist. {hint}')
    if suffix is not None and next(path.rglob(f'*{suffix}'), None) is None:
        raise FileNotFoundError(
            f'Data folder {path} holds no *{suffix} files. {hint}')
    return path


@TRANSFORMS.register_module()
class LoadCheckedImage(LoadImageFromFile):
    """``LoadImageFromFile`` that names the file it could not load.

    Raises:
        IOError: The image file is missing or cannot be decoded (unless
            ``ignore_empty=True``, which keeps returning None as upstream).
    """

    def transform(self, results: dict) -> Optional[dict]:
        """Load ``results['img_path']`` like the parent, naming failures."""
        filename = results['img_path']
        if self.ignore_empty:
            return super().transform(results)
        if _is_local(filename) and not osp.isfile(filename):
            raise IOError(f'Image file {filename} does not exist.')
        try:
            return super().transform(results)
        except Exception as err:  # decoder errors differ per backend
            raise IOError(f'Could not read image {filename} (corrupt or '
                          f'not an image?): {err}') from err


@TRANSFORMS.register_module()
class LoadCheckedAnnotations(LoadAnnotations):
    """mmseg ``LoadAnnotations`` that validates every label it loads.

    Checks, each failing with the label's file name:

    * the file exists and decodes;
    * it is single-channel (a colour label such as Cityscapes'
      ``*_gtFine_color.png`` otherwise fails much later with an anonymous
      ``IndexError``);
    * its H x W equals ``results['ori_shape']``, the size of the image as
      loaded from disk (test pipelines may resize the image before loading
      annotations, so ``img_shape`` is not the right reference);
    * every id is a class id in ``[0, num_classes)`` or ``ignore_index``:
      other ids (e.g. Cityscapes ``labelIds`` instead of ``trainIds``)
      would be counted as wrong predictions and silently lower the mIoU.

    Ids are checked as mmseg delivers them, i.e. after ``reduce_zero_label``
    and the dataset's class ``label_map`` (both unchanged from mmseg, and
    no-ops for trainId labels), and after ``id_map``.

    Args:
        num_classes (int, optional): Number of classes. None (default) takes
            it from the dataset's class ``label_map`` when the dataset
            remaps classes (``results['label_map']``: its largest target id
            + 1), else :data:`DEFAULT_NUM_CLASSES` (19, Cityscapes and ACDC
            trainIds). Pass it for datasets with another class count.
        ignore_index (int): Id of unlabelled pixels.
        id_map (dict[int, int], optional): Explicit ``{loaded_id: train_id}``
            mapping applied before the id check, for datasets whose labels
            legitimately use other ids. Ids not in the map are kept. The
            number of changed pixels is stored in
            ``results['num_remapped_pixels']`` and summed in
            :attr:`num_remapped_pixels`.
        **kwargs: ``LoadAnnotations`` arguments (``reduce_zero_label``,
            ``imdecode_backend``, ``backend_args``).

    Raises:
        IOError: The label file is missing or cannot be decoded.
        ValueError: The label has several channels, its size differs from
            its image's, or it holds ids outside the classes.
    """

    def __init__(self, num_classes: Optional[int] = None,
                 ignore_index: int = IGNORE_INDEX,
                 id_map: Optional[Dict[int, int]] = None, **kwargs) -> None:
        super().__init__(**kwargs)
        if num_classes is not None and not 0 < num_classes <= MAX_LABEL_ID:
            raise ValueError(f'num_classes must be in [1, {MAX_LABEL_ID}], '
                             f'got {num_classes}')
        self.num_classes, self.ignore_index = num_classes, ignore_index
        self.id_map = None if id_map is None else {
            int(k): int(v) for k, v in id_map.items()}
        self._lut = None if id_map is None else _lookup_table(self.id_map)
        #: Pixels changed by ``id_map`` in all labels this instance loaded
        #: (per data-loader worker process).
        self.num_remapped_pixels = 0

    def _load_seg_map(self, results: dict) -> None:
        filename = results['seg_map_path']
        if _is_local(filename) and not osp.isfile(filename):
            raise IOError(f'Label file {filename} does not exist.')
        try:
            super()._load_seg_map(results)
        except AssertionError:
            raise  # upstream config mismatch (reduce_zero_label), not I/O
        except Exception as err:
            raise IOError(f'Could not read label {filename} (corrupt or '
                          f'not an image?): {err}') from err
        _check_channels(results['gt_seg_map'], filename)
        self._check_size(results, filename)
        self._apply_id_map(results)
        _check_ids(results['gt_seg_map'], filename,
                   self._num_classes(results), self.ignore_index)

    def _num_classes(self, results: dict) -> int:
        """Explicit ``num_classes``, else the dataset's, else Cityscapes'."""
        if self.num_classes is not None:
            return self.num_classes
        label_map = results.get('label_map')
        targets = [v for v in (label_map or {}).values()
                   if v != self.ignore_index]
        return max(targets) + 1 if targets else DEFAULT_NUM_CLASSES

    def _apply_id_map(self, results: dict) -> None:
        """Map ids through ``id_map`` (a 256-entry lookup: one pass)."""
        results['num_remapped_pixels'] = 0
        if self._lut is None:
            return
        label = results['gt_seg_map']
        mapped = self._lut[label]
        changed = int(np.count_nonzero(mapped != label))
        results['gt_seg_map'] = mapped
        results['num_remapped_pixels'] = changed
        self.num_remapped_pixels += changed

    @staticmethod
    def _check_size(results: dict, filename: str) -> None:
        expected = results.get('ori_shape')
        if expected is None:
            return
        got = tuple(results['gt_seg_map'].shape[:2])
        if got != tuple(expected[:2]):
            raise ValueError(
                f'Label {filename} is {got[0]}x{got[1]} (HxW) but its image '
                f'{results.get("img_path")} is {expected[0]}x{expected[1]}; '
                'labels must be pixel-aligned with their images.')

    def __repr__(self) -> str:
        return (f'{super().__repr__()[:-1]}, num_classes={self.num_classes}, '
                f'ignore_index={self.ignore_index}, id_map={self.id_map})')


def _lookup_table(id_map: Dict[int, int]) -> np.ndarray:
    """uint8 table sending each id to itself unless ``id_map`` says else."""
    lut = np.arange(MAX_LABEL_ID + 1, dtype=np.uint8)
    for src, dst in id_map.items():
        if not (0 <= src <= MAX_LABEL_ID and 0 <= dst <= MAX_LABEL_ID):
            raise ValueError(f'id_map entries must be label ids in [0, '
                             f'{MAX_LABEL_ID}], got {src}: {dst}')
        lut[src] = dst
    return lut


def _check_channels(label: np.ndarray, filename: str) -> None:
    """Refuse colour (or otherwise multi-channel) label images."""
    if label.ndim != 2:
        raise ValueError(
            f'Label {filename} has shape {label.shape}: expected a '
            'single-channel image of class ids (trainIds, e.g. '
            '*_gtFine_labelTrainIds.png or *_gt_labelTrainIds.png), not a '
            'colour visualisation such as *_color.png.')


def _check_ids(label: np.ndarray, filename: str, num_classes: int,
               ignore_index: int) -> None:
    """Refuse ids outside ``[0, num_classes)`` and ``ignore_index``."""
    # Two uint8 comparisons (~0.4 ms for 1024x2048) settle valid labels;
    # the histogram (8x slower) is only built to describe invalid ones.
    high = np.count_nonzero(label >= num_classes)
    if high == 0 or (ignore_index >= num_classes and
                     high == np.count_nonzero(label == ignore_index)):
        return
    counts = np.bincount(label.ravel(), minlength=MAX_LABEL_ID + 1)
    counts[:num_classes] = 0
    if 0 <= ignore_index <= MAX_LABEL_ID:
        counts[ignore_index] = 0
    bad = np.flatnonzero(counts)
    listed = ', '.join(f'{i} ({counts[i]} px)' for i in bad[:MAX_LISTED_IDS])
    more = f' and {bad.size - MAX_LISTED_IDS} more' if (
        bad.size > MAX_LISTED_IDS) else ''
    raise ValueError(
        f'Label {filename} holds ids outside the {num_classes} classes '
        f'[0, {num_classes - 1}] and ignore index {ignore_index}: '
        f'{listed}{more}; {int(counts.sum())} of {label.size} pixels. '
        'Expected trainIds (e.g. *_labelTrainIds.png, not *_labelIds.png); '
        'set num_classes for datasets with more classes, or map the ids '
        'explicitly with LoadCheckedAnnotations(id_map={id: train_id}).')
