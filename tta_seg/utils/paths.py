"""Where things are: the configs and shipped checkpoints, the data home,
and paths given relative to them. A leaf module: it imports nothing else
of tta_seg, so every layer may use it.

From a checkout (``pip install -e .``) the configs and checkpoints are the
repository's ``configs/`` and ``checkpoints/``; a wheel (``pip install
.``) carries them inside the package, as ``tta_seg/configs`` and
``tta_seg/checkpoints``. :data:`ASSET_ROOT` is the folder that holds them
either way, so ``configs/tent/...py`` resolves from any directory.
"""
import os
import os.path as osp
from typing import Optional

#: The package folder (``.../tta_seg``).
PACKAGE_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
#: Repository root when run from a checkout (the package's parent).
REPO_ROOT = osp.dirname(PACKAGE_ROOT)
#: Whether this is a checkout (configs beside the package) or a wheel
#: (configs inside it; checked first, so that a stray ``configs/`` folder
#: in site-packages is never taken for a checkout).
FROM_CHECKOUT = not osp.isdir(osp.join(PACKAGE_ROOT, 'configs')) and \
    osp.isdir(osp.join(REPO_ROOT, 'configs'))
#: The folder holding ``configs/`` and ``checkpoints/``.
ASSET_ROOT = REPO_ROOT if FROM_CHECKOUT else PACKAGE_ROOT
#: Environment variable that moves the data home.
DATA_ENV = 'TTA_SEG_DATA'


def data_home() -> str:
    """Where relative data roots live: ``$TTA_SEG_DATA``, else the
    repository's ``data/`` folder (a checkout) or ``~/.cache/tta_seg/data``
    (an installed wheel); independent of the working directory."""
    default = osp.join(REPO_ROOT, 'data') if FROM_CHECKOUT else osp.join(
        os.environ.get('XDG_CACHE_HOME') or osp.join('~', '.cache'),
        'tta_seg', 'data')
    return osp.abspath(osp.expanduser(os.environ.get(DATA_ENV) or default))


def resolve_path(path: Optional[str]) -> Optional[str]:
    """Resolve a relative path against the CWD, then :data:`ASSET_ROOT`;
    an existing file comes back absolute (the same string from whatever
    directory a command runs, so run identities do not depend on it)."""
    if not path or osp.isabs(path):
        return path
    if osp.exists(path):
        return osp.abspath(path)
    candidate = osp.join(ASSET_ROOT, path)
    return candidate if osp.exists(candidate) else path
