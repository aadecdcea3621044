"""A non-editable install: the wheel carries the configs, the shipped
checkpoints and the ``tta-seg`` command, and finds them from any
directory (nothing of the checkout on the path)."""
import os
import subprocess
import sys
import textwrap
import zipfile

import pytest

from tta_seg.utils.paths import REPO_ROOT

MAIN_CONFIG = 'configs/tent/tent-original_deeplabv3plus-r18_synthetic.py'
pytestmark = pytest.mark.slow


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    """The wheel built from this checkout, installed (without its
    dependencies, which this environment has) into a folder of its own."""
    root = tmp_path_factory.mktemp('wheel')
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps',
                    '--no-build-isolation', '-q', '-w', str(root / 'dist'),
                    REPO_ROOT], check=True, capture_output=True)
    wheel, = (root / 'dist').glob('tta_seg-*.whl')
    subprocess.run([sys.executable, '-m', 'pip', 'install', '--no-deps',
                    '-q', '--target', str(root / 'site'), str(wheel)],
                   check=True, capture_output=True)
    return wheel, root / 'site'


def outside(site, code: str, *args: str, cwd, env=None):
    """Run Python with only the installed wheel for tta_seg, elsewhere."""
    env = dict(os.environ, PYTHONPATH=str(site), **(env or {}))
    return subprocess.run([sys.executable, *args] if not code else
                          [sys.executable, '-c', textwrap.dedent(code)],
                          cwd=cwd, env=env, capture_output=True, text=True)


def test_wheel_carries_configs_checkpoints_and_the_command(installed):
    wheel, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    assert 'tta_seg/' + MAIN_CONFIG in names
    assert 'tta_seg/configs/_base_/default_runtime.py' in names
    assert ('tta_seg/checkpoints/synthetic/deeplabv3plus_r18_synthetic.pth'
            in names)
    assert ('tta_seg/checkpoints/synthetic/deeplabv3plus_r18_synthetic'
            '.summary.json' in names)
    entry = next(n for n in names if n.endswith('entry_points.txt'))
    assert 'tta-seg = tta_seg.cli:main' in zipfile.ZipFile(wheel).read(
        entry).decode()


def test_installed_package_resolves_the_main_job_from_anywhere(installed,
                                                               tmp_path):
    _, site = installed
    proc = outside(site, f'''
        import tta_seg
        from tta_seg.apis.run import build_run_cfg
        from tta_seg.utils.checkpoint import load_checkpoint_file
        from tta_seg.utils.paths import FROM_CHECKOUT, data_home
        cfg = build_run_cfg({MAIN_CONFIG!r})
        ckpt = cfg.model.source_checkpoint
        load_checkpoint_file(ckpt)  # its bytes pass the CRC/sha256 checks
        print(tta_seg.__file__, FROM_CHECKOUT, ckpt, cfg.filename,
              data_home(), sep='\\n')
        ''', cwd=tmp_path, env=dict(TTA_SEG_DATA=str(tmp_path / 'data')))
    assert proc.returncode == 0, proc.stderr[-3000:]
    module, checkout, ckpt, config, data = proc.stdout.split('\n')[-6:-1]
    assert module.startswith(str(site)) and checkout == 'False'
    assert ckpt.startswith(str(site)) and config.startswith(str(site))
    assert data == str(tmp_path / 'data')
    usage = outside(site, '', '-m', 'tta_seg.cli', '--help', cwd=tmp_path)
    assert usage.returncode == 0 and 'run-all' in usage.stdout


@pytest.mark.heavy
def test_installed_wheel_runs_the_main_job(installed, tmp_path):
    """The README's main job from the wheel (generates the embedded data
    into a temporary data home first: minutes)."""
    _, site = installed
    proc = outside(site, '', '-m', 'tta_seg.cli', 'run', MAIN_CONFIG,
                   '--work-dir', str(tmp_path / 'work'), cwd=tmp_path,
                   env=dict(TTA_SEG_DATA=str(tmp_path / 'data')))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'mean mIoU over 12 records' in proc.stdout + proc.stderr
    assert (tmp_path / 'work' / 'results.json').is_file()
