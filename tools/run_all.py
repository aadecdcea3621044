"""``python tools/run_all.py ARGS`` = ``tta-seg run-all ARGS`` (tta_seg/cli)."""
import sys

import _bootstrap  # noqa: F401  (a checkout that is not installed)
from tta_seg.cli import main

if __name__ == '__main__':
    sys.exit(main(['run-all'] + sys.argv[1:]))
