"""``python tools/test_tta.py ARGS`` = ``tta-seg run ARGS`` (tta_seg/cli)."""
import sys

import _bootstrap  # noqa: F401  (a checkout that is not installed)
from tta_seg.cli import main

if __name__ == '__main__':
    sys.exit(main(['run'] + sys.argv[1:]))
