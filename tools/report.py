"""``python tools/report.py ARGS`` = ``tta-seg report ARGS`` (tta_seg/cli)."""
import sys

from tta_seg.cli import main

if __name__ == '__main__':
    sys.exit(main(['report'] + sys.argv[1:]))
