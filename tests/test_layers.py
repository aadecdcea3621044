"""The package's layers, enforced by import-linter (contracts in
``.importlinter``: utils a leaf, models and datasets below apis, engine
and sweep, engine below apis, and the full layer order)."""
import shutil
import subprocess

import pytest

from tta_seg.utils.paths import REPO_ROOT


def test_import_contracts_are_kept():
    exe = shutil.which('lint-imports')
    if exe is None:
        pytest.skip('import-linter is not installed (pip install -e '
                    '".[tests]")')
    proc = subprocess.run([exe], cwd=REPO_ROOT, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert '0 broken' in proc.stdout and 'kept' in proc.stdout
