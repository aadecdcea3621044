"""``python tools/test_tta.py ARGS`` = ``tta-seg run ARGS`` (tta_seg/cli)."""
import sys

from tta_seg.cli import main

if __name__ == '__main__':
    sys.exit(main(['run'] + sys.argv[1:]))
