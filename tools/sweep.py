"""``python tools/sweep.py ARGS`` = ``tta-seg sweep ARGS`` (tta_seg/cli)."""
import sys

from tta_seg.cli import main

if __name__ == '__main__':
    sys.exit(main(['sweep'] + sys.argv[1:]))
