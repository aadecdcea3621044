"""``python -m tta_seg.cli COMMAND ...`` = ``tta-seg COMMAND ...``."""
import sys

from . import main

sys.exit(main())
