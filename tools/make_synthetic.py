"""Generate the embedded synthetic Cityscapes -> ACDC benchmark.

Example::

    python tools/make_synthetic.py --out data/synthetic
    python tools/make_synthetic.py --out data/tiny --num-train 40 \
        --num-val 8 --num-target-train 10 --num-target-val 4 --force
    python tools/make_synthetic.py --preview docs/synthetic_preview.png \
        --preview-index 3
"""
import argparse
import os.path as osp
import sys
import time

try:
    import tta_seg  # noqa: F401
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from tta_seg.datasets.synthetic import (ensure_benchmark,  # noqa: E402
                                        generate_benchmark, save_preview)


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options (see ``--help``)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default='data/synthetic',
                        help='output folder (cityscapes/ and acdc/ inside)')
    parser.add_argument('--num-train', type=int, default=800)
    parser.add_argument('--num-val', type=int, default=100)
    parser.add_argument('--num-target-train', type=int, default=100,
                        help='target images per condition (train split)')
    parser.add_argument('--num-target-val', type=int, default=20,
                        help='target images per condition (val split)')
    parser.add_argument('--width', type=int, default=512)
    parser.add_argument('--height', type=int, default=256)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--severity', type=float, default=1.0,
                        help='weather strength (0 = clean, 1 = default)')
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--force', action='store_true',
                        help='regenerate even if an identical benchmark '
                        'is already complete')
    parser.add_argument('--preview', default=None,
                        help='also write a preview PNG to this path')
    parser.add_argument('--preview-index', type=int, default=0,
                        help='which fog/train scene the preview shows')
    parser.add_argument('--quiet', action='store_true',
                        help='no progress bar')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    """Generate (or reuse) the benchmark, optionally write a preview."""
    args = parse_args(argv)
    params = dict(num_train=args.num_train, num_val=args.num_val,
                  num_target_train=args.num_target_train,
                  num_target_val=args.num_target_val, width=args.width,
                  height=args.height, seed=args.seed,
                  severity=args.severity)
    start = time.perf_counter()
    build = generate_benchmark if args.force else ensure_benchmark
    root = build(args.out, workers=args.workers, progress=not args.quiet,
                 **params)
    print(f'benchmark ready at {root} '
          f'({time.perf_counter() - start:.1f} s)')
    if args.preview:
        out = save_preview(root, args.preview, args.preview_index)
        print(f'preview written to {out}')


if __name__ == '__main__':
    main()
