"""Run every method on the embedded benchmark and compare them.

    python tools/run_all.py [--models r18 b0] [--methods source tent ...]
        [--jobs 2] [--work-root work_dirs/all] [--cfg-options k=v ...]

Runs ``tools/test_tta.py`` for each (model, method) config below, ``--jobs``
at a time (each with ``OMP_NUM_THREADS = cores / jobs``), skipping runs whose
``results.json`` is complete and resuming interrupted ones, then writes
``tools/report.py`` comparisons per model into ``<work-root>/report_<model>``.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

#: model key -> {method key: config}
CONFIGS = {
    'r18': {
        'source': 'configs/source/source_deeplabv3plus-r18_synthetic.py',
        'bn_adapt': 'configs/bn_adapt/bn-adapt_deeplabv3plus-r18_synthetic.py',
        'tent': 'configs/tent/tent_deeplabv3plus-r18_synthetic.py',
        'tent_original':
        'configs/tent/tent-original_deeplabv3plus-r18_synthetic.py',
        'cotta': 'configs/cotta/cotta_deeplabv3plus-r18_synthetic.py',
        'ecotta': 'configs/ecotta/ecotta_deeplabv3plus-r18_synthetic.py',
        'diga': 'configs/diga/diga_deeplabv3plus-r18_synthetic.py',
        'sar': 'configs/sar/sar_deeplabv3plus-r18_synthetic.py',
        'gprebn': 'configs/gprebn/gprebn_deeplabv3plus-r18_synthetic.py',
        # the same model trained with SelfNorm/CrossNorm
        'sncn_source': 'configs/sncn/source_deeplabv3plus-r18-sncn_synthetic.py',
        'sncn_tent': 'configs/sncn/tent_deeplabv3plus-r18-sncn_synthetic.py',
    },
    'b0': {
        'source': 'configs/source/source_segformer-b0_synthetic.py',
        'bn_adapt': 'configs/bn_adapt/bn-adapt_segformer-b0_synthetic.py',
        'tent': 'configs/tent/tent_segformer-b0_synthetic.py',
        'cotta': 'configs/cotta/cotta_segformer-b0_synthetic.py',
        'ecotta': 'configs/ecotta/ecotta_segformer-b0_synthetic.py',
        'diga': 'configs/diga/diga_segformer-b0_synthetic.py',
        'sar': 'configs/sar/sar_segformer-b0_synthetic.py',
    },
}


def is_done(work_dir: str) -> bool:
    path = osp.join(work_dir, 'results.json')
    if not osp.exists(path):
        return False
    with open(path) as f:
        res = json.load(f)
    return len(res['records']) == res['rounds'] * len(res['domains'])


def run_one(config: str, work_dir: str, threads: int, extra: list) -> int:
    if is_done(work_dir):
        print(f'done already: {work_dir}', flush=True)
        return 0
    cmd = [sys.executable, osp.join(ROOT, 'tools/test_tta.py'), config,
           '--work-dir', work_dir]
    if osp.exists(osp.join(work_dir, 'resume_state.pth')):
        cmd.append('--resume')
    if extra:
        cmd += ['--cfg-options'] + extra
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    os.makedirs(work_dir, exist_ok=True)
    with open(osp.join(work_dir, 'run.log'), 'a') as log:
        print('running', ' '.join(cmd), flush=True)
        code = subprocess.call(cmd, cwd=ROOT, env=env, stdout=log,
                               stderr=subprocess.STDOUT)
    print(f'finished ({code}): {work_dir}', flush=True)
    return code


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--models', nargs='+', default=list(CONFIGS))
    parser.add_argument('--methods', nargs='+', default=None)
    parser.add_argument('--jobs', type=int, default=1)
    parser.add_argument('--work-root', default='work_dirs/all')
    parser.add_argument('--cfg-options', nargs='+', default=[])
    args = parser.parse_args(argv)
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    jobs = [(cfg, osp.join(args.work_root, f'{model}_{method}'))
            for model in args.models
            for method, cfg in CONFIGS[model].items()
            if args.methods is None or method in args.methods]
    with ThreadPoolExecutor(args.jobs) as pool:
        codes = list(pool.map(
            lambda job: run_one(job[0], job[1], threads, args.cfg_options),
            jobs))
    for model in args.models:
        dirs = [d for c, d in jobs if osp.basename(d).startswith(model + '_')
                and osp.exists(osp.join(d, 'results.json'))]
        if dirs:
            subprocess.call([sys.executable, osp.join(ROOT, 'tools/report.py'),
                             *dirs, '--out',
                             osp.join(args.work_root, f'report_{model}'),
                             '--title', f'Embedded benchmark, {model}'],
                            cwd=ROOT)
    return max(codes) if codes else 0


if __name__ == '__main__':
    sys.exit(main())
