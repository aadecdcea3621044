"""``python tools/train.py ARGS`` = ``tta-seg train ARGS`` (tta_seg/cli)."""
import sys

import _bootstrap  # noqa: F401  (a checkout that is not installed)
from tta_seg.cli import main

if __name__ == '__main__':
    sys.exit(main(['train'] + sys.argv[1:]))
