"""Where things are: the repository (configs, shipped checkpoints), the
data home, and paths given relative to either. A leaf module: it imports
nothing else of tta_seg, so every layer may use it."""
import os
import os.path as osp
from typing import Optional

#: Repository root (configs, shipped checkpoints) when run from a checkout.
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: Environment variable that moves the data home.
DATA_ENV = 'TTA_SEG_DATA'


def data_home() -> str:
    """Where relative data roots live: ``$TTA_SEG_DATA``, else the
    repository's ``data/`` folder (independent of the working directory)."""
    return osp.abspath(osp.expanduser(
        os.environ.get(DATA_ENV) or osp.join(REPO_ROOT, 'data')))


def resolve_path(path: Optional[str]) -> Optional[str]:
    """Resolve a relative path against the CWD, then the repository root;
    an existing file comes back absolute (the same string from whatever
    directory a command runs, so run identities do not depend on it)."""
    if not path or osp.isabs(path):
        return path
    if osp.exists(path):
        return osp.abspath(path)
    candidate = osp.join(REPO_ROOT, path)
    return candidate if osp.exists(candidate) else path
