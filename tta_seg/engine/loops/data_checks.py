"""Building a domain's loader with its data checked first: the dataset
must hold images and its first image/label pair must load (and pass the
label checks), so a missing snow folder or Cityscapes split fails in
seconds, naming the domain, the path and the expected layout, not after
hours of adaptation."""
from mmengine.runner import Runner

from tta_seg.registry import DATASETS

#: The documentation page and section that explain the data layouts
#: (tested to exist).
DATA_PAGE, DATA_SECTION = 'docs/data.md', 'Data preparation'
DATA_HINT = (f'See "{DATA_SECTION}" ({DATA_PAGE}): the embedded benchmark '
             'is created by `tta-seg make-data` (or on first use by '
             '`tta-seg run`); Cityscapes/ACDC must be downloaded by you and '
             'unpacked in their official layouts; point a config at them '
             'with --data-root NAME=PATH.')
CITYSCAPES_LAYOUT = ('Expected the Cityscapes layout '
                     '<data_root>/leftImg8bit/<split>/<city>/'
                     '*_leftImg8bit.png and <data_root>/gtFine/<split>/'
                     '<city>/*_gtFine_labelTrainIds.png (made by mmseg\'s '
                     'tools/dataset_converters/cityscapes.py).')


def _full_init(dataset, where: str) -> None:
    """``dataset.full_init()``; mmengine fails on an empty folder with an
    anonymous numpy error, so that case is listed again and named (only on
    failure: the folder is listed once when it holds data)."""
    try:
        dataset.full_init()
    except ValueError:
        if hasattr(dataset, 'load_data_list') and \
                not dataset.load_data_list():
            raise FileNotFoundError(f'no image found under {where}')
        raise


def _load_first(dataset) -> None:
    """Read and check the first image and label, naming both on failure."""
    try:
        dataset[0]
    except (OSError, ValueError) as err:
        info = dataset.get_data_info(0)
        files = ', '.join(f'{k} {info[k]}' for k in ('img_path',
                                                      'seg_map_path')
                          if info.get(k))
        raise type(err)(f'first sample ({files}): {err}') from err


def build_checked_loader(domain: dict, dataloader_cfg: dict, seed=None):
    """Build a domain's loader (``dict(name=..., dataset=...)``); it must
    hold images and its first image/label pair must load.

    Raises:
        FileNotFoundError: Missing or empty data (domain, path, layout).
        ValueError: A first sample that fails its checks (files named).
    """
    name, dataset = domain['name'], domain['dataset']
    layout = CITYSCAPES_LAYOUT if 'Cityscapes' in str(
        dataset.get('type')) else ''
    where = f"{dataset.get('data_root', '?')} " \
        f"({dataset.get('data_prefix', '')})"
    try:
        built = DATASETS.build(dict(dataset, lazy_init=True))
        _full_init(built, where)
        if len(built) == 0:
            raise FileNotFoundError(f'no image found under {where}')
        _load_first(built)
        return Runner.build_dataloader(dict(dataloader_cfg, dataset=built),
                                       seed=seed)
    except (OSError, ValueError) as err:
        text = f'domain {name!r} ({where}): {err}\n{layout} {DATA_HINT}'
        kind = FileNotFoundError if isinstance(err, OSError) else ValueError
        raise kind(text.replace('\n ', '\n')) from err
