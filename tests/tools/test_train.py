"""tools/train.py: a few iterations on tiny data, exported weights load
with weights_only=True into the same model."""
import hashlib
import json
import os.path as osp
import textwrap

import pytest
import torch
from mmengine.hooks import Hook

from tests.tiny import tiny_dataset_cfg, tiny_segmentor_cfg, \
    write_tiny_cityscapes
from tta_seg.apis.config import REPO_ROOT
from tta_seg.registry import HOOKS, MODELS
from tta_seg.utils.checkpoint import load_source_weights

from tta_seg.cli import train  # noqa: E402


def write_train_cfg(tmp_path, augment, batch_size, iters, extra=''):
    """A tiny training config at ``tmp_path/cfg.py`` (the embedded
    schedule with tiny data and model)."""
    root = write_tiny_cityscapes(str(tmp_path / 'data'))
    train_set = tiny_dataset_cfg(root, 'a')
    train_set['pipeline'] = [dict(type='LoadImageFromFile'),
                             dict(type='LoadAnnotations'), *augment,
                             dict(type='PackSegInputs')]
    model = tiny_segmentor_cfg('bn')
    model['data_preprocessor']['size'] = (32, 48)
    cfg = f'''
    _base_ = [{osp.join(REPO_ROOT,
                        'configs/_base_/schedules/synthetic_source.py')!r}]
    synthetic_benchmark = None
    model = {model!r}
    train_dataloader = dict(batch_size={batch_size}, num_workers=0,
                            persistent_workers=False,
                            dataset={train_set!r})
    val_dataloader = dict(batch_size=1, num_workers=0,
                          dataset={tiny_dataset_cfg(root, 'val')!r})
    test_dataloader = val_dataloader
    train_cfg = dict(max_iters={iters}, val_interval={iters})
    '''
    (tmp_path / 'cfg.py').write_text(textwrap.dedent(cfg) + extra)


@pytest.mark.slow
def test_train_and_export(tmp_path):
    write_train_cfg(tmp_path, [dict(type='RandomFlip', prob=0.5)], 2, 4,
                    'param_scheduler = []\n')
    out = tmp_path / 'model.pth'
    train.main([str(tmp_path / 'cfg.py'), '--work-dir',
                str(tmp_path / 'work'), '--export', str(out)])
    summary = json.loads((tmp_path / 'work' / 'train_summary.json')
                         .read_text())
    assert summary['iters'] == 4 and 'mIoU' in summary['val_metrics']
    assert summary['sha256'] == hashlib.sha256(out.read_bytes()).hexdigest()
    model = MODELS.build(tiny_segmentor_cfg('bn'))
    load_source_weights(model, str(out))  # weights_only=True
    state = torch.load(out, weights_only=True)
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key])
    # the train loop's final validation is reused: its metrics, not the
    # timer hook's scalars
    assert 'time' not in summary['val_metrics']
    # shipped form: fp16, optionally only some weights
    half = tmp_path / 'half.pth'
    train.export(_Runner(model, str(tmp_path / 'work')), str(half), {},
                 'float16', only='decode_head.')
    half_state = torch.load(half, weights_only=True)
    assert half_state and all(k.startswith('decode_head.')
                              for k in half_state)
    for key, value in half_state.items():
        ref = model.state_dict()[key]
        assert value.dtype == (torch.float16 if ref.is_floating_point()
                               else ref.dtype)
    assert json.loads((tmp_path / 'work' / 'train_summary.json').read_text(
    ))['dtype'] == 'float16'


class _Runner:
    """The attributes of a Runner that ``train.export`` reads."""

    def __init__(self, model, work_dir):
        self.model, self.work_dir, self.iter = model, work_dir, 0
        self.cfg = type('Cfg', (), {'filename': 'x.py'})()
        self.logger = type('Log', (), {'info': staticmethod(print)})()


@HOOKS.register_module(force=True)
class StopAfterIter(Hook):
    """Raise after ``at`` iterations (after the checkpoint hook saved)."""
    priority = 'LOWEST'

    def __init__(self, at):
        self.at = at

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if runner.iter + 1 == self.at:
            raise KeyboardInterrupt(f'stopped after iteration {self.at}')


@HOOKS.register_module(force=True)
class SeenIters(Hook):
    """The iterations a training ran."""
    seen = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        SeenIters.seen.append(runner.iter)


@pytest.mark.slow
def test_interrupted_training_resumes_exactly(tmp_path):
    """--resume continues from the last checkpoint in the work dir: the
    weights equal those of an uninterrupted run (data order, optimizer,
    BN statistics and learning-rate schedule restored; the pipeline has no
    random augmentation, whose random numbers a resume does not restore),
    so a long training can be continued over several sittings."""
    write_train_cfg(tmp_path, [], 1, 5, textwrap.dedent('''\
        param_scheduler = [dict(type='LinearLR', start_factor=0.1,
                                by_epoch=False, begin=0, end=5)]
        default_hooks = dict(checkpoint=dict(interval=2))
        randomness = dict(seed=0)
        '''))
    (tmp_path / 'stop.py').write_text(
        "_base_ = ['./cfg.py']\n"
        "custom_hooks = [dict(type='StopAfterIter', at=3)]\n")
    (tmp_path / 'count.py').write_text(
        "_base_ = ['./cfg.py']\ncustom_hooks = [dict(type='SeenIters')]\n")

    def train_to(work, config='cfg.py', *extra):
        out = tmp_path / f'{work}.pth'
        train.main([str(tmp_path / config), '--work-dir',
                    str(tmp_path / work), '--export', str(out), *extra])
        return torch.load(out, weights_only=True)

    full = train_to('full')
    with pytest.raises(KeyboardInterrupt):
        train_to('cut', 'stop.py')
    assert osp.isfile(tmp_path / 'cut' / 'iter_2.pth')
    SeenIters.seen = []
    resumed = train_to('cut', 'count.py', '--resume')
    assert SeenIters.seen == [2, 3, 4]  # from the checkpoint of iteration 2
    assert json.loads((tmp_path / 'cut' / 'train_summary.json').read_text(
    ))['iters'] == 5
    for key, value in full.items():
        assert torch.equal(value, resumed[key]), key


@pytest.mark.slow
def test_a_later_stage_resumes_from_its_own_checkpoint(tmp_path):
    """A training stage that starts from an earlier stage's checkpoint
    (``load_from``) continues after an interruption from its own latest
    checkpoint (mmengine alone would resume from ``load_from``, i.e.
    restart the stage); with no checkpoint of its own yet, ``--resume``
    starts it from ``load_from``. A full training checkpoint outside the
    work root is refused with a clear error, not unpickled."""
    write_train_cfg(tmp_path, [], 1, 5, textwrap.dedent('''\
        default_hooks = dict(checkpoint=dict(interval=2))
        randomness = dict(seed=0)
        '''))
    runs = tmp_path / 'runs'

    def run(work, config, *extra):
        out = tmp_path / f'{work}.pth'
        train.main([str(tmp_path / config), '--work-dir', str(runs / work),
                    '--export', str(out), *extra])
        return torch.load(out, weights_only=True)

    run('first', 'cfg.py')
    first = runs / 'first' / 'iter_5.pth'
    assert first.is_file()
    (tmp_path / 'stage.py').write_text(
        f"_base_ = ['./cfg.py']\nload_from = {str(first)!r}\n")
    (tmp_path / 'stop.py').write_text(
        "_base_ = ['./stage.py']\n"
        "custom_hooks = [dict(type='StopAfterIter', at=3)]\n")
    (tmp_path / 'count.py').write_text(
        "_base_ = ['./stage.py']\ncustom_hooks = [dict(type='SeenIters')]\n")
    whole = run('whole', 'stage.py')
    with pytest.raises(KeyboardInterrupt):
        run('cut', 'stop.py')
    SeenIters.seen = []
    resumed = run('cut', 'count.py', '--resume')
    assert SeenIters.seen == [2, 3, 4]
    for key, value in whole.items():
        assert torch.equal(value, resumed[key]), key
    SeenIters.seen = []
    fresh = run('fresh', 'count.py', '--resume')
    assert SeenIters.seen == [0, 1, 2, 3, 4]
    for key, value in whole.items():
        assert torch.equal(value, fresh[key]), key
    # the same checkpoint outside the work root
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    (elsewhere / 'first.pth').write_bytes(first.read_bytes())
    (tmp_path / 'outside.py').write_text(
        "_base_ = ['./cfg.py']\n"
        f"load_from = {str(elsewhere / 'first.pth')!r}\n")
    with pytest.raises(RuntimeError, match='holds more than tensors'):
        run('outside', 'outside.py')


@pytest.mark.slow
def test_with_an_ema_hook_the_averaged_weights_are_exported(tmp_path):
    """mmengine validates the EMA weights and saves them as the
    checkpoint's state dict; the export must be those too, or the summary's
    metrics would describe another file."""
    write_train_cfg(tmp_path, [], 2, 4, 'param_scheduler = []\n'
                    "custom_hooks = [dict(type='EMAHook', momentum=0.5)]\n")
    out = tmp_path / 'model.pth'
    train.main([str(tmp_path / 'cfg.py'), '--work-dir',
                str(tmp_path / 'work'), '--export', str(out)])
    state = torch.load(out, weights_only=True)
    ckpt = torch.load(tmp_path / 'work' / 'iter_4.pth', weights_only=False)
    ema = ckpt['state_dict']  # EMAHook swaps the averages in when saving
    raw = {k[len('module.'):]: v for k, v in ckpt['ema_state_dict'].items()
           if k.startswith('module.')}
    key = 'decode_head.conv_seg.weight'
    assert not torch.equal(ema[key], raw[key])  # the average differs
    for k, v in state.items():
        assert torch.equal(v, ema[k]), k
    summary = json.loads((tmp_path / 'work' / 'train_summary.json')
                         .read_text())
    assert summary['weights'] == 'EMAHook average'


@pytest.mark.slow
def test_an_ema_hook_starts_from_a_plain_state_dict(tmp_path):
    """load_from may be an exported (fp16, plain) state dict with an
    EMAHook configured: mmengine's hook alone fails on it with a bare
    KeyError: 'state_dict'. At lr 0 the exported average is the file's
    weights."""
    write_train_cfg(tmp_path, [], 2, 2, 'param_scheduler = []\n')
    first = tmp_path / 'first.pth'
    train.main([str(tmp_path / 'cfg.py'), '--work-dir',
                str(tmp_path / 'w1'), '--export', str(first),
                '--export-dtype', 'float16'])
    extra = (f'load_from = {str(first)!r}\n'
             "custom_hooks = [dict(type='EMAHook', momentum=0.5)]\n"
             'optim_wrapper = dict(optimizer=dict(lr=0.0))\n')
    (tmp_path / 'cfg.py').write_text((tmp_path / 'cfg.py').read_text()
                                     + extra)
    out = tmp_path / 'second.pth'
    train.main([str(tmp_path / 'cfg.py'), '--work-dir',
                str(tmp_path / 'w2'), '--export', str(out),
                '--export-dtype', 'float16'])
    loaded = torch.load(first, weights_only=True)
    averaged = torch.load(out, weights_only=True)
    key = 'decode_head.conv_seg.weight'
    assert torch.equal(averaged[key], loaded[key])
    summary = json.loads((tmp_path / 'w2' / 'train_summary.json')
                         .read_text())
    assert summary['weights'] == 'EMAHook average'


def test_the_average_loads_a_plain_state_dict_and_passes_checkpoints_on():
    """The wrapped EMAHook copies a plain state dict's tensors into its
    average, and hands a training checkpoint (with 'state_dict') to
    mmengine's hook unchanged."""
    from types import SimpleNamespace

    from mmengine.hooks import EMAHook
    model = torch.nn.Linear(3, 2)
    hook = EMAHook(momentum=0.5)
    runner = SimpleNamespace(hooks=[hook], model=model, _resume=False)
    hook.before_run(runner)
    train.start_averages_from_plain_state_dicts(runner)
    plain = {k: torch.full_like(v, 7.0).half()
             for k, v in model.state_dict().items()}
    hook.after_load_checkpoint(runner, plain)
    for v in hook.ema_model.module.state_dict().values():
        assert torch.equal(v, torch.full_like(v, 7.0))
    checkpoint = dict(state_dict={k: torch.full_like(v, 3.0)
                                  for k, v in model.state_dict().items()},
                      meta=dict(iter=4))
    hook.after_load_checkpoint(runner, checkpoint)
    for v in hook.ema_model.module.state_dict().values():
        assert torch.equal(v, torch.full_like(v, 3.0))
    assert set(checkpoint) == {'state_dict', 'meta'}
