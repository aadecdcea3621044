"""The documentation: a short README whose links resolve, a README per
method folder, and the mkdocs site building with --strict."""
import glob
import os.path as osp
import re
import shutil
import subprocess

import pytest

from tta_seg.utils.paths import REPO_ROOT

README = osp.join(REPO_ROOT, 'README.md')


def test_readme_is_short_and_its_links_resolve():
    with open(README) as f:
        text = f.read()
    assert text.count('\n') <= 200
    for target in re.findall(r'\]\(([^)#]+)(?:#[^)]*)?\)', text):
        if target.startswith('http'):
            continue
        assert osp.exists(osp.join(REPO_ROOT, target)), target


def test_every_method_folder_has_a_readme():
    folders = [d for d in glob.glob(osp.join(REPO_ROOT, 'configs', '*'))
               if osp.isdir(d) and osp.basename(d) not in ('_base_',
                                                           'sweeps')]
    missing = [osp.basename(d) for d in folders
               if not osp.isfile(osp.join(d, 'README.md'))]
    assert not missing


@pytest.mark.slow
def test_docs_site_builds_strictly(tmp_path):
    exe = shutil.which('mkdocs')
    if exe is None:
        pytest.skip('mkdocs is not installed (pip install -e ".[tests]")')
    proc = subprocess.run([exe, 'build', '--strict', '-d',
                           str(tmp_path / 'site')], cwd=REPO_ROOT,
                          capture_output=True, text=True,
                          env=dict(__import__('os').environ,
                                   NO_MKDOCS_2_WARNING='1'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / 'site' / 'index.html').is_file()
