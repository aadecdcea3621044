"""Input checks with messages that say what is wrong and how to fix it.

* :func:`check_data_root` raises a ``FileNotFoundError`` naming the missing
  or empty folder, the expected layout and where to get the data.
* :class:`LoadCheckedImage` and :class:`LoadCheckedAnnotations` are drop-in
  replacements of mmcv's ``LoadImageFromFile`` and mmseg's
  ``LoadAnnotations`` that name the offending file when it is missing,
  cannot be decoded, or (for labels) does not match its image's size,
  instead of failing later with an anonymous shape or ``NoneType`` error.
"""
import os.path as osp
from pathlib import Path
from typing import Optional

from mmcv.transforms import LoadImageFromFile
from mmseg.datasets.transforms import LoadAnnotations

from tta_seg.registry import TRANSFORMS

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
    """mmseg ``LoadAnnotations`` with file and size checks.

    The label's H x W must equal ``results['ori_shape']``, the size of the
    image as loaded from disk: test pipelines may resize the image before
    loading annotations, so ``img_shape`` is not the right reference.

    Raises:
        IOError: The label file is missing or cannot be decoded.
        ValueError: The label's size differs from its image's.
    """

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
        self._check_size(results, filename)

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
