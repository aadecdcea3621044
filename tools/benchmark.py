"""``python tools/benchmark.py ARGS`` = ``tta-seg bench ARGS`` (tta_seg/cli)."""
import sys

from tta_seg.cli import main

if __name__ == '__main__':
    sys.exit(main(['bench'] + sys.argv[1:]))
