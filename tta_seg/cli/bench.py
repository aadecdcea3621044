"""Time per image and peak memory of TTA methods, as ratios to Source.

    python tools/benchmark.py CONFIG [CONFIG ...] [--size 540 960]
        [--iters 10] [--warmup 3] [--device auto|cpu|cuda] [--out FILE.json]
        [--checkpoint SRC.pth] [--no-interleave] [--cfg-options k=v ...]

A CONFIG may carry overrides for its adapter after ``::``, e.g.
``configs/cotta/x.py::fast_views=False`` (label: ``CoTTA[fast_views=False]``).
For every distinct source model among the configs, plain Source inference on
the same input is measured in the same run and every method is reported
relative to it. Random weights by default (speed does not depend on them,
except where a method skips work on unreliable pixels: pass --checkpoint).

Time ratio (``x Source``): each method's process also builds its Source
model after the memory measurement, and the two take turns of ``--block``
steps (the first step of a turn, which refills the caches the other model
evicted, is not timed); the ratio is the median over turns of the method's
over Source's mean step time, so that drifts of the machine's speed
between runs cancel (``--no-interleave``: ratio of the separately measured
medians).

GPU: CUDA events around each adaptation step; peak memory =
``torch.cuda.max_memory_allocated`` during the steps (weights included,
minus what was allocated before the method's model was built).
CPU: wall time; each method runs in its own fresh child process (spawned by
this one run) and peak memory = peak RSS of that process minus its RSS
before the model was built (weights + step working memory).
"""
import argparse
import gc
import json
import multiprocessing as mp
import os.path as osp
import resource
import time

MB = 1024.0**2


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='TTA speed/memory')
    parser.add_argument('configs', nargs='+')
    parser.add_argument('--size', type=int, nargs=2, default=(540, 960),
                        metavar=('H', 'W'), help='input size (default: '
                        'ACDC at half resolution, 540 960)')
    parser.add_argument('--iters', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--device', default='auto')
    parser.add_argument('--threads', type=int, default=None,
                        help='CPU threads (torch.set_num_threads)')
    parser.add_argument('--block', type=int, default=3,
                        help='steps per model and turn when interleaving '
                        '(the first of each turn is not timed)')
    parser.add_argument('--no-interleave', dest='interleave',
                        action='store_false',
                        help='time ratios from separate runs instead of '
                        'steps alternating with Source in one process')
    parser.add_argument('--checkpoint', help='source weights (optional)')
    parser.add_argument('--out', help='write the results as JSON here')
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='k=v overrides applied to every config')
    args = parser.parse_args(argv)
    if args.block < 2:
        parser.error('--block must be at least 2')
    return args


def parse_spec(spec: str):
    """``path::k=v,k2=v2`` -> (path, {'adapter.k': v, ...}, label suffix)."""
    path, _, opts = spec.partition('::')
    overrides = {}
    for item in filter(None, opts.split(',')):
        key, _, value = item.partition('=')
        overrides[f'adapter.{key}'] = value
    return path, overrides, f'[{opts}]' if opts else ''


def build_adapter(path, overrides, args, source=False):
    import tta_seg  # noqa: F401
    from mmengine.config import Config, DictAction
    from mmengine.registry import init_default_scope

    from tta_seg.apis import compose_model_cfg
    from tta_seg.registry import MODELS
    cfg = Config.fromfile(path)
    options = {}
    for item in list(args.cfg_options) + [f'{k}={v}'
                                          for k, v in overrides.items()]:
        key, _, value = item.partition('=')
        options[key] = DictAction._parse_iterable(value)
    cfg.merge_from_dict(options)
    if source:
        cfg.adapter = dict(type='Source')
    compose_model_cfg(cfg, args.checkpoint,
                      random_weights=args.checkpoint is None)
    init_default_scope('tta_seg')
    return MODELS.build(cfg.model)


def make_batch(height, width):
    import torch
    from mmseg.structures import SegDataSample
    gen = torch.Generator().manual_seed(0)
    img = torch.randint(0, 256, (3, height, width), generator=gen,
                        dtype=torch.uint8)
    meta = dict(ori_shape=(height, width), img_shape=(height, width),
                pad_shape=(height, width), scale_factor=(1.0, 1.0),
                flip=False)
    return dict(inputs=[img], data_samples=[SegDataSample(metainfo=meta)])


def step_seconds(adapter, batch, cuda):
    """Wall (CPU) or CUDA-event (GPU) seconds of one adaptation step."""
    import torch
    if cuda:
        start, end = (torch.cuda.Event(enable_timing=True) for _ in range(2))
        start.record()
        adapter.test_step(batch)
        end.record()
        torch.cuda.synchronize()
        return start.elapsed_time(end) / 1000.0
    t0 = time.perf_counter()
    adapter.test_step(batch)
    return time.perf_counter() - t0


def block_seconds(adapter, batch, cuda, block):
    """Mean seconds of the steps of a block of ``block`` steps after its
    first (which refills caches the other model evicted)."""
    times = [step_seconds(adapter, batch, cuda) for _ in range(block)]
    return sum(times[1:]) / (block - 1)


def median(values):
    values = sorted(values)
    return values[len(values) // 2]


def measure(path, overrides, args, device, source=False):
    """Return (seconds per image, peak MB, time ratio to Source) of one
    method; the ratio is None for Source itself or with ``--no-interleave``.

    Peak memory is taken first, with the method's model alone. Then, unless
    ``--no-interleave``, the model's Source is built in the same process and
    the two take turns of ``--block`` steps, so that drifts of the machine's
    speed (other load, clocks) cancel in the median of the per-turn
    ratios.
    """
    import torch

    import tta_seg.adapters  # noqa: F401  (imports outside the measurement)
    import tta_seg.apis  # noqa: F401
    if args.threads:
        torch.set_num_threads(args.threads)
    cuda = device.startswith('cuda')
    base = 0
    if cuda:  # free what earlier methods of this run may have left
        gc.collect()
        torch.cuda.empty_cache()
        base = torch.cuda.memory_allocated()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    adapter = build_adapter(path, overrides, args, source).to(device)
    batch = make_batch(*args.size)
    for _ in range(args.warmup):
        adapter.test_step(batch)
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    seconds = median([step_seconds(adapter, batch, cuda)
                      for _ in range(args.iters)])
    if cuda:
        peak = (torch.cuda.max_memory_allocated() - base) / MB
    else:  # ru_maxrss is in KiB on Linux
        peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss -
                rss0) / 1024.0
    ratio = None
    if not source and args.interleave:
        reference = build_adapter(path, {}, args, source=True).to(device)
        for _ in range(args.warmup):
            reference.test_step(batch)
        ratios = []
        for _ in range(args.iters):
            ref = block_seconds(reference, batch, cuda, args.block)
            ratios.append(block_seconds(adapter, batch, cuda, args.block) /
                          ref)
        ratio = median(ratios)
        del reference
    del adapter
    return seconds, peak, ratio


def _child(queue, *a):
    try:
        queue.put(measure(*a))
    except BaseException as err:  # report, never hang the parent
        queue.put(err)


def run_isolated(path, overrides, args, device, source=False):
    """CPU: one fresh process per measurement, so peak RSS is its own."""
    if device.startswith('cuda'):
        return measure(path, overrides, args, device, source)
    ctx = mp.get_context('spawn')
    queue = ctx.Queue()
    proc = ctx.Process(target=_child,
                       args=(queue, path, overrides, args, device, source))
    proc.start()
    result = queue.get()
    proc.join()
    if isinstance(result, BaseException):
        raise result
    return result


def model_key(cfg):
    """Identity of a config's source model (its Source is shared)."""
    return json.dumps(cfg.model.to_dict(), sort_keys=True, default=str)


def main(argv=None):
    args = parse_args(argv)
    import torch
    from mmengine.config import Config
    device = args.device
    if device == 'auto':
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
    rows, sources = [], {}
    for spec in args.configs:
        path, overrides, suffix = parse_spec(spec)
        cfg = Config.fromfile(path)
        key = model_key(cfg)
        if key not in sources:
            if device.startswith('cuda') and not sources:
                # the first model of a CUDA process pays one-time costs
                # (context, kernels, allocator) beyond the warm-up steps
                run_isolated(path, {}, args, device, source=True)
            sources[key] = run_isolated(path, {}, args, device, source=True)
            rows.append(dict(method='Source', config=path, model_key=key,
                             seconds=sources[key][0], peak_mb=sources[key][1],
                             interleaved_ratio=None))
        name = cfg.adapter['type'] + suffix
        if name == 'Source':  # measured above as this model's reference
            continue
        sec, mem, ratio = run_isolated(path, overrides, args, device)
        rows.append(dict(method=name, config=path, model_key=key,
                         seconds=sec, peak_mb=mem, interleaved_ratio=ratio))
    report(rows, sources, args, device)


def report(rows, sources, args, device):
    import torch
    for row in rows:
        src = sources[row.pop('model_key')]
        # interleaved steps in one process where measured (robust to drift)
        row['time_ratio'] = row['interleaved_ratio'] or row['seconds'] / src[0]
        row['memory_ratio'] = row['peak_mb'] / src[1] if src[1] > 0 \
            else float('nan')
    where = torch.cuda.get_device_name() if device.startswith('cuda') else \
        f'CPU ({args.threads or torch.get_num_threads()} threads)'
    print(f'\n{where}, input {args.size[0]}x{args.size[1]}, batch 1, '
          f'median of {args.iters} steps\n')
    print('| method | config | ms / image | x Source | peak MB | x Source |')
    print('|---|---|---|---|---|---|')
    for r in rows:
        print(f"| {r['method']} | {osp.basename(r['config'])} | "
              f"{r['seconds'] * 1000:.1f} | {r['time_ratio']:.2f} | "
              f"{r['peak_mb']:.0f} | {r['memory_ratio']:.2f} |")
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(device=where, size=list(args.size),
                           iters=args.iters, rows=rows), f, indent=1)


if __name__ == '__main__':
    main()
