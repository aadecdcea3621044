"""``python tools/make_synthetic.py ARGS`` = ``tta-seg make-data ARGS`` (tta_seg/cli)."""
import sys

import _bootstrap  # noqa: F401  (a checkout that is not installed)
from tta_seg.cli import main

if __name__ == '__main__':
    sys.exit(main(['make-data'] + sys.argv[1:]))
