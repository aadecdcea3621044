"""ACDC (Adverse Conditions Dataset with Correspondences), Sakaridis et al.,
ICCV 2021, https://acdc.vision.ee.ethz.ch -- the target domains of the
Cityscapes -> ACDC continual test-time adaptation protocol (CoTTA).

Layout (``data_root`` is the folder holding ``rgb_anon`` and ``gt``)::

    rgb_anon/{condition}/{split}/GOPRxxxx/GOPRxxxx_frame_nnnnnn_rgb_anon.png
    rgb_anon/{condition}/{split}_ref/GOPRxxxx/..._rgb_ref_anon.png
    gt/{condition}/{split}/GOPRxxxx/..._gt_labelTrainIds.png

Labels are Cityscapes trainIds (19 classes, 255 ignored); the ``test``
split has none. The synthetic benchmark (``tools/make_synthetic.py``)
writes the same layout under ``<out>/acdc``.
"""
import os.path as osp
from typing import List, Optional

from mmseg.datasets import BaseSegDataset, CityscapesDataset

from tta_seg.registry import DATASETS
from .checks import acdc_hint, check_data_root

#: ACDC's adverse conditions, in the CoTTA protocol's order. The synthetic
#: renderer keeps its own list (its ``weather.CONDITIONS``), tested equal,
#: so that loading real data never imports the generator.
CONDITIONS = ('fog', 'night', 'rain', 'snow')
SPLITS = ('train', 'val', 'test')
#: Splits whose labels are public.
LABELLED_SPLITS = ('train', 'val')
IMG_SUFFIX = '_rgb_anon.png'
REF_SUFFIX = '_rgb_ref_anon.png'
SEG_MAP_SUFFIX = '_gt_labelTrainIds.png'


@DATASETS.register_module()
class ACDCDataset(BaseSegDataset):
    """One condition and split of ACDC, in sorted (deterministic) order.

    Args:
        condition (str): ``fog``, ``night``, ``rain`` or ``snow``.
        split (str): ``train``, ``val`` or ``test`` (no labels).
        use_ref (bool): Load the clear-weather reference images of the
            ``{split}_ref`` folders instead. Their labels are those of the
            adverse image with the same name. Deviation from real ACDC:
            there the references are only roughly aligned (recorded on
            another day), so their "labels" are approximate; in the
            synthetic benchmark they are exact twins.
        max_images (int, optional): Keep the first N images after sorting
            (the CoTTA protocol uses 400 per condition).
        data_root (str): Folder holding ``rgb_anon`` and ``gt``.
        img_suffix (str): Adverse image suffix.
        seg_map_suffix (str): Label suffix.
        reduce_zero_label (bool): Must stay False for trainId labels.
        **kwargs: Other ``BaseSegDataset`` arguments (``pipeline``,
            ``test_mode``, ``lazy_init``, ``indices``...). ``data_prefix``
            is derived from ``condition``/``split`` and cannot be passed.

    Raises:
        ValueError: Unknown condition or split, or conflicting arguments.
        FileNotFoundError: Missing/empty data folder or missing label file.
    """
    METAINFO = CityscapesDataset.METAINFO

    def __init__(self, condition: str = 'fog', split: str = 'train',
                 use_ref: bool = False, max_images: Optional[int] = None,
                 data_root: Optional[str] = None,
                 img_suffix: str = IMG_SUFFIX,
                 seg_map_suffix: str = SEG_MAP_SUFFIX,
                 reduce_zero_label: bool = False, **kwargs) -> None:
        _check_choice('condition', condition, CONDITIONS)
        _check_choice('split', split, SPLITS)
        if 'data_prefix' in kwargs:
            raise ValueError('ACDCDataset sets data_prefix from condition '
                             'and split; do not pass data_prefix.')
        if max_images is not None:
            if kwargs.get('indices') is not None:
                raise ValueError('pass either max_images or indices')
            kwargs['indices'] = int(max_images)
        check_data_root(data_root, acdc_hint(data_root))
        self.condition, self.split, self.use_ref = condition, split, use_ref
        img_dir = f'rgb_anon/{condition}/{split}' + ('_ref' if use_ref
                                                      else '')
        prefix = dict(img_path=img_dir)
        if split in LABELLED_SPLITS:
            prefix['seg_map_path'] = f'gt/{condition}/{split}'
        if use_ref and img_suffix == IMG_SUFFIX:
            img_suffix = REF_SUFFIX
        super().__init__(data_root=data_root, data_prefix=prefix,
                         img_suffix=img_suffix,
                         seg_map_suffix=seg_map_suffix,
                         reduce_zero_label=reduce_zero_label, **kwargs)

    def load_data_list(self) -> List[dict]:
        """List images (sorted); check folders and that labels exist."""
        hint = acdc_hint(self.data_root)
        check_data_root(self.data_prefix['img_path'], hint,
                        suffix=self.img_suffix)
        data_list = super().load_data_list()
        for info in data_list:
            seg_map = info.get('seg_map_path')
            if seg_map is not None and not osp.isfile(seg_map):
                raise FileNotFoundError(
                    f'Label file {seg_map} for image {info["img_path"]} is '
                    f'missing. {hint}')
        return data_list


def _check_choice(name: str, value: str, choices) -> None:
    if value not in choices:
        raise ValueError(f'{name} must be one of {choices}, got {value!r}')
