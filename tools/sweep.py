"""``python tools/sweep.py ARGS`` = ``tta-seg sweep ARGS`` (tta_seg/cli)."""
import sys

import _bootstrap  # noqa: F401  (a checkout that is not installed)
from tta_seg.cli import main

if __name__ == '__main__':
    sys.exit(main(['sweep'] + sys.argv[1:]))
