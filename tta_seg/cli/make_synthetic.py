"""Generate the embedded synthetic Cityscapes -> ACDC benchmark.

Example::

    python tools/make_synthetic.py --out data/synthetic
    python tools/make_synthetic.py --out data/tiny --num-train 40 \
        --num-val 8 --num-target-train 10 --num-target-val 4 --force
    python tools/make_synthetic.py --preview docs/synthetic_preview.png \
        --preview-index 3
"""
import argparse
import time

from tta_seg.datasets.synthetic import (ensure_benchmark, generate_benchmark,
                                        save_preview)
from tta_seg.datasets.synthetic.generate import (DEFAULT_SEVERITY,
                                                 normalize_severity)


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
    parser.add_argument('--severity', nargs='+', default=None,
                        metavar='S | COND=S',
                        help='weather strength (0 = clean, 1 = the '
                        "renderer's full strength): one number for every "
                        'condition, or one COND=S for each of fog, night, '
                        'rain and snow (default: the severity the configs '
                        'use, DEFAULT_SEVERITY in '
                        'tta_seg/datasets/synthetic/generate.py, now '
                        f'{DEFAULT_SEVERITY})')
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
    args = parser.parse_args(argv)
    try:
        if args.severity is not None:
            args.severity = parse_severity(args.severity)
    except ValueError as err:
        parser.error(f'--severity: {err}')
    return args


def parse_severity(items):
    """``['0.8']`` -> 0.8; ``['fog=0.6', 'night=0.9', ...]`` -> a dict
    with every condition (checked by ``normalize_severity``)."""
    if len(items) == 1 and '=' not in items[0]:
        return normalize_severity(float(items[0]))
    pairs = {}
    for item in items:
        name, sep, value = item.partition('=')
        if not sep or name in pairs:
            raise ValueError(f'expected one number or distinct COND=S '
                             f'pairs, got {items}')
        pairs[name] = float(value)
    return normalize_severity(pairs)


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
