"""tta_seg: continual test-time adaptation for semantic segmentation."""
from setuptools import find_packages, setup

setup(
    name='tta_seg',
    version='0.1.0',
    description='Continual test-time adaptation for semantic segmentation '
    'on mmsegmentation 1.x',
    # the configs and shipped checkpoints travel inside the package
    # (tta_seg/configs, tta_seg/checkpoints in a wheel; a checkout uses the
    # repository's folders: tta_seg.utils.paths.ASSET_ROOT)
    packages=find_packages(include=['tta_seg', 'tta_seg.*']) +
    ['tta_seg.configs', 'tta_seg.checkpoints', 'tta_seg.docs'],
    package_dir={'tta_seg.configs': 'configs',
                 'tta_seg.checkpoints': 'checkpoints', 'tta_seg.docs': 'docs'},
    package_data={
        'tta_seg': ['py.typed'],
        'tta_seg.configs': ['**/*.py'],
        'tta_seg.checkpoints': ['**/*.pth', '**/*.json'],
        # measured relative costs that time-budget configs may name
        'tta_seg.docs': ['results/benchmark_*.json'],
    },
    entry_points={'console_scripts': ['tta-seg = tta_seg.cli:main']},
    python_requires='>=3.8',
    install_requires=[
        # torch is not pinned here: install the build for your machine first
        # (README); an unpinned torch would pull a multi-GB CUDA build.
        'torch>=1.12',
        'mmengine>=0.10.0,<0.11',
        'mmcv-lite>=2.0.0,<2.2.0',
        'mmsegmentation>=1.2.0,<1.3',
        # mmseg needs these but does not declare them
        'ftfy',
        'regex',
        # configs with `mmseg::` bases import pkg_resources
        'setuptools<81',
        'opencv-python',
        'numpy',
        'tqdm',
        'matplotlib',
        # ImageNet-C corruptions (tta_seg/datasets/corruptions.py): the
        # maintained fork of bethgelab's imagecorruptions, which fails
        # under NumPy 2; pulls scikit-image and numba. Capped below 1.2: a
        # new release may redraw the corrupted images
        'imagecorruptions-imaug>=1.1.5,<1.2',
        # sweeps (tta_seg/sweep): Ray core only, no Tune extras; a local
        # instance by default, the same code on a cluster
        'ray>=2.40,<3',
    ],
    extras_require={
        # import-linter: the layer contracts of .importlinter; mkdocs-material:
        # the documentation site (both checked by the tests)
        'tests': ['pytest', 'import-linter>=2.1,<3',
                  'mkdocs-material>=9.5,<10'],
    },
)
