"""EcoTTA: meta-block wrapper, losses by hand, trainable state, memory."""
import math
import os.path as osp
import textwrap

import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.optim import OptimWrapper

import tta_seg.adapters.ecotta  # noqa: F401  (registers EcoTTA + segmentor)
from tests.tiny import (make_batch, tiny_dataset_cfg, tiny_segmentor_cfg,
                        write_tiny_cityscapes)
from tta_seg.apis.config import REPO_ROOT
from tta_seg.models.ecotta import (META_PREFIX, EcoTTASegmentor,
                                   load_meta_weights, self_distillation_loss)
from tta_seg.models.losses import reliable_entropy
from tta_seg.registry import MODELS

PARTITIONS = [('bn', None), ('bn', ['layer1.0', 'layer2', 'layer3.0']),
              ('ln', None), ('ln', ['layers.1'])]


def source_and_wrapped(kind, partition=None, **kwargs):
    """A source EncoderDecoder and its EcoTTA wrapper with equal weights.

    The source is frozen too: PyTorch's MultiheadAttention takes another
    kernel (last-bit differences) when its weights require grad.
    """
    torch.manual_seed(0)
    cfg = tiny_segmentor_cfg(kind)
    source = MODELS.build(ConfigDict(cfg)).eval().requires_grad_(False)
    wrapped = MODELS.build(ConfigDict(dict(
        cfg, type='EcoTTASegmentor', partition=partition, **kwargs))).eval()
    wrapped.frozen_view().load_state_dict(source.state_dict())
    return source, wrapped


def preprocess(segmentor, n=2, seed=0):
    data = segmentor.data_preprocessor(make_batch(n, seed=seed), False)
    return data['inputs'], [s.metainfo for s in data['data_samples']]


def build(kind='bn', lr=1e-2, **kwargs):
    # the random tiny models are unsure everywhere: margin 1.0 (entropy <
    # ln C) keeps the pixels, so that the entropy term has gradients
    kwargs.setdefault('entropy_margin', 1.0)
    return MODELS.build(dict(
        type='EcoTTA', segmentor=tiny_segmentor_cfg(kind),
        optim_wrapper=dict(optimizer=dict(type='Adam', lr=lr)), **kwargs))


@pytest.mark.parametrize('kind,partition', PARTITIONS)
@pytest.mark.parametrize('n', [1, 2])
def test_identity_at_init(kind, partition, n):
    source, wrapped = source_and_wrapped(kind, partition)
    inputs, metas = preprocess(source, n)
    with torch.no_grad():
        expected = source.inference(inputs, metas)
        assert torch.equal(wrapped.inference(inputs, metas), expected)
    wrapped.meta_blocks.requires_grad_(True)  # checkpointed path
    assert torch.equal(wrapped.inference(inputs, metas), expected)
    assert self_distillation_loss(wrapped.pop_part_outputs()) == 0


def test_partition_resolution_and_errors():
    _, wrapped = source_and_wrapped('bn', ['layer2', 'layer1.0'])
    assert wrapped.partition == ['layer1.0', 'layer2.1']
    with pytest.raises(KeyError, match='layer9'):
        source_and_wrapped('bn', ['layer9'])
    cfg = dict(tiny_segmentor_cfg('bn'), type='FancySegmentor')
    with pytest.raises(TypeError, match='FancySegmentor'):
        MODELS.build(dict(type='EcoTTA', segmentor=cfg))


def test_original_network_frozen_and_in_eval_mode():
    _, wrapped = source_and_wrapped('bn')
    assert isinstance(wrapped, EcoTTASegmentor)
    wrapped.train()
    for name, mod in wrapped.named_modules():
        assert mod.training == name.startswith('meta_blocks') or name == '', \
            name
    for name, param in wrapped.named_parameters():
        assert param.requires_grad == name.startswith(META_PREFIX), name


def test_regulariser_by_hand():
    pairs = [(torch.zeros(2, 3), torch.full((2, 3), 2.0)),
             (torch.ones(1, 4), torch.tensor([[1.5, 0.5, 1.0, 1.0]]))]
    torch.testing.assert_close(self_distillation_loss(pairs),
                               torch.tensor(2.0 + 0.25))
    # a shifted meta BN: x~_1 = x_1 + c, later blocks are identities again
    shift = 0.25
    _, wrapped = source_and_wrapped('bn')
    with torch.no_grad():
        wrapped.meta_blocks[1].norm.bias.fill_(shift)
    inputs, metas = preprocess(wrapped)
    wrapped.meta_blocks.requires_grad_(True)
    wrapped.inference(inputs, metas)
    parts = wrapped.pop_part_outputs()
    diffs = [(meta - frozen).abs().mean().item() for frozen, meta in parts]
    assert diffs[0] == 0 and diffs[2] == 0 and diffs[3] == 0
    assert diffs[1] == pytest.approx(shift, abs=1e-6)
    assert self_distillation_loss(parts).item() == pytest.approx(shift,
                                                                 abs=1e-6)


def test_entropy_filter_by_hand():
    # one-hot-ish logits (a, 0, 0, 0, 0) over C = 5: p = e^a / (e^a + 4)
    boosts = [5.0, 0.0, 2.0, 3.0, 3.2]
    logits = torch.zeros(1, 5, 1, len(boosts))
    logits[0, 0, 0] = torch.tensor(boosts)

    def entropy(a):
        p, q = math.exp(a) / (math.exp(a) + 4), 1 / (math.exp(a) + 4)
        return -(p * math.log(p) + 4 * q * math.log(q))

    margin = 0.4 * math.log(5)  # 0.644; H(3.0) = 0.680, H(3.2) = 0.600
    keep = [entropy(a) < margin for a in boosts]
    assert keep == [True, False, False, False, True]
    loss, mask = reliable_entropy(logits, margin)
    assert mask[0, 0].tolist() == keep
    expected = sum(entropy(a) for a, k in zip(boosts, keep) if k) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    none, mask = reliable_entropy(logits, 0.0)
    assert not mask.any() and none.item() == 0.0


def test_adapt_loss_combines_entropy_and_weighted_regulariser():
    eco = build(reg_weight=0.5)
    eco.prepare()
    with torch.no_grad():
        eco.segmentor.meta_blocks[0].norm.bias.fill_(0.5)
    inputs, metas = preprocess(eco.segmentor)
    with torch.enable_grad():
        logits, losses = eco.adapt_loss(inputs, metas)
    expected, _ = reliable_entropy(logits, math.log(5))
    torch.testing.assert_close(losses['loss_entropy'], expected)
    assert losses['loss_distill'].item() == pytest.approx(0.25, abs=1e-6)
    assert eco.segmentor.part_outputs == []  # popped, not kept


@pytest.mark.parametrize('kind', ['bn', 'ln'])
@pytest.mark.parametrize('batch_stats', [False, True])
def test_only_meta_blocks_change_and_reset_is_exact(kind, batch_stats):
    eco = build(kind, batch_stats=batch_stats)
    eco.prepare()
    source = {k: v.clone() for k, v in eco.state_dict().items()}
    first = eco.test_step(make_batch(seed=0))
    eco.test_step(make_batch(seed=1))
    changed = {k for k, v in eco.state_dict().items()
               if not torch.equal(v, source[k])}
    assert changed and all(k.startswith('segmentor.' + META_PREFIX)
                           for k in changed), changed
    eco.reset()
    for key, value in eco.state_dict().items():
        assert torch.equal(value, source[key]), key
    again = eco.test_step(make_batch(seed=0))
    for a, b in zip(first, again):
        assert torch.equal(a.seg_logits.data, b.seg_logits.data)


@pytest.mark.parametrize('kind', ['bn', 'ln'])
def test_gradients_cross_frozen_parts_to_the_first_meta_block(kind):
    grads = {}
    for ckpt in (True, False):
        torch.manual_seed(0)
        eco = build(kind, reg_weight=0.0, checkpoint_frozen=ckpt)
        eco.prepare()
        inputs, metas = preprocess(eco.segmentor)
        with torch.enable_grad():
            _, losses = eco.adapt_loss(inputs, metas)
            losses['loss_entropy'].backward()
        first = eco.segmentor.meta_blocks[0]
        assert first.norm.weight.grad.abs().sum() > 0
        assert first.gate.grad.abs().sum() > 0
        for name, param in eco.named_parameters():
            if META_PREFIX not in name:
                assert param.grad is None, name
        grads[ckpt] = {n: p.grad.clone() for n, p in eco.named_parameters()
                       if p.grad is not None}
    # checkpointing changes memory, not gradients
    for name, grad in grads[True].items():
        torch.testing.assert_close(grad, grads[False][name])


#: memory options of EcoTTASegmentor: plain, segments, segments + blocks
CHECKPOINTING = [dict(checkpoint_frozen=False),
                 dict(checkpoint_blocks=False), dict()]


@pytest.mark.slow
@pytest.mark.parametrize('kind', ['bn', 'ln'])
def test_checkpointing_changes_neither_losses_nor_updates(kind):
    """Losses, meta-block gradients, updated weights and predictions of
    three steps, with every checkpointing option (the embedded benchmark
    warm-up gives meta blocks away from the identity: here a shifted BN)."""
    runs = []
    for options in CHECKPOINTING:
        torch.manual_seed(0)
        eco = build(kind, lr=1e-2, **options)
        eco.prepare()
        with torch.no_grad():
            eco.segmentor.meta_blocks[0].gate.fill_(0.5)
        inputs, metas = preprocess(eco.segmentor, seed=5)
        with torch.enable_grad():
            _, losses = eco.adapt_loss(inputs, metas)
            sum(losses.values()).backward()
        grads = {n: p.grad.clone() for n, p in eco.named_parameters()
                 if p.grad is not None}
        eco.optim_wrapper.zero_grad()
        outs = [eco.test_step(make_batch(seed=s))[0].seg_logits.data
                for s in range(3)]
        runs.append((losses, grads, outs, eco.state_dict()))
    reference = runs[0]
    for losses, grads, outs, state in runs[1:]:
        for key, value in reference[0].items():
            torch.testing.assert_close(losses[key], value)
        assert grads.keys() == reference[1].keys() and grads
        for name, grad in grads.items():
            torch.testing.assert_close(grad, reference[1][name])
        for a, b in zip(outs, reference[2]):
            torch.testing.assert_close(a, b)
        for key, value in state.items():
            torch.testing.assert_close(value, reference[3][key])


def peak_step_bytes(eco, batch):
    """Peak of the bytes allocated on the CPU during one step, above the
    start (torch profiler allocation events, in time order)."""
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU],
                 profile_memory=True) as prof:
        eco.test_step(batch)
    events = sorted((e.start_ns(), e.nbytes())
                    for e in prof.profiler.kineto_results.events()
                    if e.name() == '[memory]')
    current = peak = 0
    for _, nbytes in events:
        current += nbytes
        peak = max(peak, current)
    return peak


def wide_segmentor_cfg(kind):
    """A tiny segmentor whose features, not its 5-class logits, dominate
    the memory (where checkpointing matters): 2 blocks per stage."""
    cfg = tiny_segmentor_cfg(kind)
    if kind == 'bn':
        cfg['backbone'].update(base_channels=16, stem_channels=16,
                               strides=(1, 1, 2, 1))
        cfg['decode_head'].update(in_channels=128, channels=64, num_convs=2)
    else:
        cfg['backbone'].update(embed_dims=16, num_layers=[2, 2, 2, 2])
        cfg['decode_head'].update(in_channels=[16, 32, 64, 128],
                                  channels=64)
    return cfg


@pytest.mark.slow
@pytest.mark.parametrize('kind', ['bn', 'ln'])
def test_block_checkpointing_lowers_the_peak(kind, capsys):
    batch = make_batch(n=1, height=64, width=96)
    peaks = []
    for options in CHECKPOINTING:
        torch.manual_seed(0)
        eco = MODELS.build(dict(
            type='EcoTTA', segmentor=wide_segmentor_cfg(kind),
            entropy_margin=1.0, **options,
            optim_wrapper=dict(optimizer=dict(type='Adam', lr=1e-3))))
        eco.test_step(batch)  # warm up (lazy allocations, Adam state)
        peaks.append(peak_step_bytes(eco, batch))
    with capsys.disabled():
        print(f'\n{kind}: peak step bytes, no / segment / block '
              f'checkpointing: {peaks}')
    assert peaks[2] < peaks[1] < peaks[0]


def test_warmup_trains_meta_blocks_only_and_reloads(tmp_path):
    _, model = source_and_wrapped('bn', warmup_reg_weight=0.5)
    model.data_preprocessor.size = (32, 48)  # training pads to a size
    frozen = {k: v.clone() for k, v in model.state_dict().items()
              if not k.startswith(META_PREFIX)}
    params = [p for p in model.parameters() if p.requires_grad]
    optim = OptimWrapper(torch.optim.Adam(params, lr=1e-2))
    model.train()
    for seed in range(3):
        losses = model.train_step(make_batch(seed=seed), optim)
    assert {'decode.loss_ce', 'loss_distill'} <= set(losses)
    assert all(b.initialized for b in model.meta_blocks)
    for key, value in model.state_dict().items():
        if key in frozen:  # incl. the original BN statistics
            assert torch.equal(value, frozen[key]), key
    path = str(tmp_path / 'warmup.pth')
    torch.save(model.state_dict(), path)
    eco = build(meta_checkpoint=path)
    for key, value in eco.segmentor.meta_blocks.state_dict().items():
        assert torch.equal(value, model.meta_blocks.state_dict()[key]), key
    with pytest.raises(KeyError, match='meta_blocks'):
        load_meta_weights(eco.segmentor, _save(tmp_path, frozen))


def _save(tmp_path, state):
    path = str(tmp_path / 'no_meta.pth')
    torch.save(state, path)
    return path


def test_source_checkpoint_goes_to_the_original_modules(tmp_path):
    source, _ = source_and_wrapped('bn')
    path = _save(tmp_path, source.state_dict())
    eco = build(source_checkpoint=path)
    for key, value in source.state_dict().items():
        assert torch.equal(eco.segmentor.state_dict()[key], value), key


def saved_bytes(adapter, batch):
    """Bytes autograd packs for backward in the segmentor's forward of one
    adaptation step (the losses, alike for every method, are left out):
    ``(sum over packs, sum over distinct storages)``."""
    adapter.prepare()
    data = adapter.segmentor.data_preprocessor(batch, False)
    metas = [s.metainfo for s in data['data_samples']]
    packed, storages = [0], {}

    def pack(t):
        packed[0] += t.numel() * t.element_size()
        storage = t.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.enable_grad():
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            logits = adapter.segmentor.inference(data['inputs'], metas)
        logits.sum().backward()  # the saved graph is usable
    return packed[0], sum(storages.values())


def test_saves_far_less_for_backward_than_tent(capsys):
    batch = make_batch(n=2, height=64, width=96)
    torch.manual_seed(0)
    tent = MODELS.build(dict(
        type='TENT', segmentor=tiny_segmentor_cfg('bn'),
        optim_wrapper=dict(optimizer=dict(type='Adam', lr=1e-3))))
    eco, eco_plain = build(), build(checkpoint_frozen=False)
    tent_b, eco_b, plain_b = (saved_bytes(m, batch)
                              for m in (tent, eco, eco_plain))
    with capsys.disabled():
        print(f'\nbytes saved for backward (all packs, distinct storages): '
              f'TENT {tent_b}, EcoTTA {eco_b}, '
              f'EcoTTA without checkpointing {plain_b}')
    # checkpoint inputs are held by reference, not packed; they are the
    # meta blocks' conv inputs, packed there, so the count stays honest
    for i in range(2):
        assert eco_b[i] < 0.25 * tent_b[i]
        assert eco_b[i] < 0.5 * plain_b[i]


@pytest.mark.slow
def test_warmup_config_through_tools_train(tmp_path):
    """The warm-up config on the Runner: init_weights + load_from keep the
    source, only meta blocks train, the export feeds ``meta_checkpoint``."""
    from tta_seg.cli import train

    source, _ = source_and_wrapped('bn')
    source_path = _save(tmp_path, source.state_dict())
    root = write_tiny_cityscapes(str(tmp_path / 'data'))
    model = dict(tiny_segmentor_cfg('bn'), _delete_=True, _scope_='tta_seg',
                 type='EcoTTASegmentor', checkpoint_frozen=False)
    model['data_preprocessor']['size'] = (32, 48)
    warmup = osp.join(REPO_ROOT, 'configs/ecotta/'
                      'ecotta-warmup_deeplabv3plus-r18_synthetic.py')
    cfg = f'''
    _base_ = [{warmup!r}]
    synthetic_benchmark = None
    model = {model!r}
    load_from = {source_path!r}
    train_dataloader = dict(batch_size=2, num_workers=0,
                            persistent_workers=False,
                            dataset={tiny_dataset_cfg(root, 'a')!r})
    val_dataloader = dict(batch_size=1, num_workers=0,
                          dataset={tiny_dataset_cfg(root, 'val')!r})
    test_dataloader = val_dataloader
    train_cfg = dict(max_iters=3, val_interval=3)
    param_scheduler = []
    '''
    (tmp_path / 'cfg.py').write_text(textwrap.dedent(cfg))
    out = str(tmp_path / 'warmup.pth')
    train.main([str(tmp_path / 'cfg.py'), '--work-dir',
                str(tmp_path / 'work'), '--export', out])
    state = torch.load(out, weights_only=True)
    for key, value in source.state_dict().items():
        assert torch.equal(state[key], value), key
    assert all(state[f'{META_PREFIX}{k}.initialized'] for k in range(4))
    eco = build(meta_checkpoint=out)  # a plain state dict: weights_only
    for key, value in eco.segmentor.meta_blocks.state_dict().items():
        assert torch.equal(value, state[META_PREFIX + key]), key
