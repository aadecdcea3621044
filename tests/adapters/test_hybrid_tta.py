"""Hybrid-TTA against hand-computed references on tiny tensors: the mask,
the masked L1, the adapters (zero at start, one per MLP / residual block),
DDSD's switching rule, what trains in each mode (and when an unfreeze
acts), the EMA teacher, restarts and exact reset."""
import math

import pytest
import torch

from tests.contract import build, run_steps
from tests.tiny import make_batch
from tta_seg.models.hybrid_tta import (ADAPTER_KEY, DomainShiftDetector,
                                       MLPAdapter, inject_adapters,
                                       masked_features, masked_l1,
                                       patch_mask)
from tta_seg.registry import MODELS

ADAM = dict(optimizer=dict(type='Adam', lr=1e-2))


def hybrid(kind, **kwargs):
    return build(dict(type='HybridTTA', decoder_channels=8,
                      optim_wrapper=ADAM, **kwargs), kind)


@pytest.mark.parametrize('height, width', [(64, 96), (70, 33)])
def test_patch_mask_counts_and_alignment(height, width):
    torch.manual_seed(0)
    mask = patch_mask(3, height, width, patch=32, ratio=0.6)
    assert mask.shape == (3, height, width) and mask.dtype == torch.bool
    gh, gw = math.ceil(height / 32), math.ceil(width / 32)
    for image in mask:
        patches = [image[i * 32:(i + 1) * 32, j * 32:(j + 1) * 32]
                   for i in range(gh) for j in range(gw)]
        # every patch is all masked or all kept
        assert all(p.all() or not p.any() for p in patches)
        assert sum(bool(p.all()) for p in patches) == math.ceil(
            0.6 * gh * gw)


def test_masked_l1_by_hand():
    recon = torch.tensor([[[[1., 2.], [3., 4.]]],
                          [[[0., 0.], [0., 0.]]]]).repeat(1, 2, 1, 1)
    target = torch.zeros(2, 2, 2, 2)
    mask = torch.tensor([[[True, False], [False, True]],
                         [[False, False], [False, False]]])
    # masked pixels: 1 and 4 of image 0, in both channels: (1+4)*2 / (2*2)
    assert masked_l1(recon, target, mask).item() == pytest.approx(2.5)
    assert masked_l1(recon, target, torch.zeros_like(mask)).item() == 0.0


@pytest.mark.parametrize('kind, blocks', [('ln', 4), ('bn', 8)])
def test_adapters_start_at_zero_on_every_block(kind, blocks):
    from tests.tiny import tiny_segmentor_cfg
    torch.manual_seed(0)
    seg = MODELS.build(tiny_segmentor_cfg(kind)).eval()
    batch = torch.randn(2, 3, 32, 48)
    before = seg.extract_feat(batch)
    names = inject_adapters(seg, hidden=5)
    assert len(names) == blocks and inject_adapters(seg) == []
    for a, b in zip(before, seg.extract_feat(batch)):
        assert torch.equal(a, b)  # zero up projection: exactly the source
    adapters = [m for m in seg.modules() if isinstance(m, MLPAdapter)]
    assert len(adapters) == blocks
    assert all(a.down.out_features == 5 if hasattr(a.down, 'out_features')
               else a.down.out_channels == 5 for a in adapters)
    # down projection: truncated normal std 0.02, zero bias (official)
    downs = torch.cat([a.down.weight.detach().flatten() for a in adapters])
    assert 0.015 < float(downs.std()) < 0.025
    assert all(not a.down.bias.any() for a in adapters)


@pytest.mark.parametrize('kind', ['ln', 'bn'])
def test_each_adapter_adds_to_its_block_from_the_blocks_input(kind):
    """With a non-zero up projection: every MiT Mix-FFN returns its own
    output (identity + MLP) plus adapter(its input, i.e. norm2(x)); every
    residual block its output plus adapter(the block's input)."""
    from mmseg.models.backbones.mit import MixFFN

    from tests.tiny import tiny_segmentor_cfg
    torch.manual_seed(0)
    seg = MODELS.build(tiny_segmentor_cfg(kind)).eval()
    inject_adapters(seg)
    for m in seg.modules():
        if isinstance(m, MLPAdapter):
            torch.nn.init.normal_(m.up.weight)
    checked = 0
    with torch.no_grad():
        for module in seg.backbone.modules():
            adapter = getattr(module, ADAPTER_KEY, None)
            if adapter is None:
                continue
            if isinstance(module, MixFFN):
                x, identity = torch.randn(2, 12, module.embed_dims), \
                    torch.randn(2, 12, module.embed_dims)
                args = (x, (3, 4))
                out = module(*args, identity=identity)
                plain = module.forward(*args, identity=identity)
            else:
                x = torch.randn(2, module.conv1.in_channels, 8, 8)
                out, plain = module(x), module.forward(x)
            delta = adapter(x)
            assert delta.abs().sum() > 0
            torch.testing.assert_close(out, plain + delta)
            checked += 1
    assert checked == (4 if kind == 'ln' else 8)


def test_adapter_output_by_hand():
    adapter = MLPAdapter(2, hidden=1)
    with torch.no_grad():
        adapter.down.weight.copy_(torch.tensor([[1., -1.]]))
        adapter.down.bias.zero_()
        adapter.up.weight.copy_(torch.tensor([[2.], [3.]]))
        adapter.scale.fill_(0.5)
    x = torch.tensor([[3., 1.]])
    gelu = 2 * 0.5 * (1 + math.erf(2 / math.sqrt(2)))  # GELU(3 - 1)
    expected = torch.tensor([[0.5 * 2 * gelu, 0.5 * 3 * gelu]])
    torch.testing.assert_close(adapter(x), expected)


def test_ddsd_rule_by_hand():
    det = DomainShiftDetector(window=2, momentum=0.5, margin=0.1)
    decisions, taus = [], []
    for loss in (1.0, 1.0, 0.4, 0.4, 2.0):
        decisions.append(det.step(loss))
        taus.append(float(det.tau))
    # tau: 0.5, 0.75, 0.575, 0.4875, 1.24375; the decision compares the
    # mean of the last 2 losses with 1.1 x tau *before* its update
    assert taus == pytest.approx([0.5, 0.75, 0.575, 0.4875, 1.24375])
    # step 1: one loss only -> full; 2: 1.0 >= 0.55 -> full;
    # 3: 0.7 >= 0.825? no -> efficient; 4: 0.4 < 0.6325 -> efficient;
    # 5: 1.2 >= 0.53625 -> full
    assert decisions == [False, False, True, True, False]


def _blocks(adapter):
    """The MiT transformer blocks' own parameters (layers.<i>.1.*)."""
    import re
    return {n: p.detach().clone() for n, p in
            adapter.segmentor.backbone.named_parameters()
            if re.match(r'layers\.\d+\.1\.', n) and ADAPTER_KEY not in n}


def _others(adapter):
    seg = dict(adapter.segmentor.named_parameters())
    keep = [n for n in seg if ADAPTER_KEY in n or n.startswith(
        'decode_head') or 'layers.0.0.' in n]
    out = {n: seg[n].detach().clone() for n in keep}
    out.update({f'decoder.{n}': p.detach().clone()
                for n, p in adapter.decoder.named_parameters()})
    out['mask_token'] = adapter.mask_token.detach().clone()
    return out


def _changed(before, after):
    return {n for n in before if not torch.equal(before[n], after[n])}


def test_efficient_tuning_freezes_the_blocks_only():
    adapter = hybrid('ln', mask_patch=8)  # 32x48 images: 24 patches
    adapter.prepare()
    adapter.detector.efficient.fill_(True)
    adapter.detector.tau.fill_(1e9)  # keeps deciding efficient
    adapter.detector.seen.fill_(10)
    blocks, others = _blocks(adapter), _others(adapter)
    run_steps(adapter, steps=1)
    assert not _changed(blocks, _blocks(adapter))
    changed = _changed(others, _others(adapter))
    assert any(ADAPTER_KEY in n for n in changed)
    assert any(n.startswith('decode_head') for n in changed)
    assert any(n.startswith('decoder.') for n in changed)
    assert 'layers.0.0.projection.weight' in {
        n.split('backbone.')[-1] for n in changed}
    assert adapter.counters['efficient_steps'] == 1


def test_unfreeze_acts_from_the_next_step_and_full_tuning_trains_all():
    adapter = hybrid('ln')
    adapter.prepare()
    adapter.detector.efficient.fill_(True)  # frozen during this forward
    # tau = 0: this step decides full tuning
    blocks = _blocks(adapter)
    run_steps(adapter, steps=1)
    assert not _changed(blocks, _blocks(adapter))
    assert not bool(adapter.detector.efficient)
    blocks = _blocks(adapter)
    run_steps(adapter, steps=1)
    assert _changed(blocks, _blocks(adapter)) == set(blocks)


def test_teacher_is_an_exact_ema_and_scores():
    adapter = hybrid('bn', alpha_teacher=0.9)
    adapter.prepare()
    teacher = [p.detach().clone() for p in adapter.teacher.parameters()]
    data = adapter.segmentor.data_preprocessor(make_batch(seed=0), False)
    inputs, metas = data['inputs'], [s.metainfo for s in
                                     data['data_samples']]
    with torch.no_grad():
        expected = adapter.teacher.inference(inputs, metas)
    logits = adapter.forward_and_adapt(inputs, metas)
    for old, new, student in zip(teacher, adapter.teacher.parameters(),
                                 adapter.segmentor.parameters()):
        torch.testing.assert_close(new, 0.9 * old + 0.1 * student)
    # the reported prediction is the teacher's, made before its update
    torch.testing.assert_close(logits, expected)
    assert not torch.equal(adapter.teacher.inference(inputs, metas),
                           expected)


def test_mask_token_replaces_exactly_the_masked_first_tokens():
    adapter = hybrid('ln')
    seg = adapter.segmentor
    inputs = torch.randn(1, 3, 32, 48)
    none = torch.zeros(1, 32, 48, dtype=torch.bool)
    with torch.no_grad():
        plain = seg.extract_feat(inputs)
        same = masked_features(seg, inputs, none, adapter.mask_token)
        every = masked_features(seg, inputs, ~none, adapter.mask_token)
        grey = seg.extract_feat(torch.zeros_like(inputs))
    assert all(torch.equal(a, b) for a, b in zip(plain, same))
    assert not torch.equal(plain[0], every[0])
    # all tokens = the (zero) mask token: the image no longer matters
    other = masked_features(seg, torch.randn(1, 3, 32, 48), ~none,
                            adapter.mask_token)
    assert all(torch.allclose(a, b) for a, b in zip(every, other))
    assert not torch.equal(every[0], grey[0])


def test_restart_every_clears_moments_and_forces_full_tuning():
    adapter = hybrid('ln', restart_every=4)
    run_steps(adapter, steps=2)  # 4 images
    assert adapter.counters['restarts'] == 0
    assert adapter.optim_wrapper.optimizer.state
    state = adapter.optim_wrapper.optimizer.state
    assert all(int(s['step']) == 2 for s in state.values())
    adapter.detector.efficient.fill_(True)
    blocks = [p.detach().clone() for p in adapter._blocks]
    run_steps(adapter, steps=1)  # images 5-6: a new chunk starts
    assert adapter.counters['restarts'] == 1
    assert int(adapter.restart_chunk) == 1
    # fresh moments (one step since the restart), full tuning forced
    assert all(int(s['step']) == 1 for s in state.values())
    assert all(not torch.equal(a, b)  # efficient: none would change
               for a, b in zip(blocks, adapter._blocks))
    run_steps(adapter, steps=1)  # images 7-8: same chunk, no restart
    assert adapter.counters['restarts'] == 1
    assert all(int(s['step']) == 2 for s in state.values())


def test_reset_restores_detector_and_mode():
    adapter = hybrid('ln')
    adapter.prepare()
    run_steps(adapter, steps=2)
    adapter.detector.efficient.fill_(True)
    adapter.apply_mode(True)
    adapter.reset()
    assert int(adapter.detector.seen) == 0 and float(adapter.detector.tau) \
        == 0.0 and not bool(adapter.detector.efficient)
    assert all(p.requires_grad for p in adapter.segmentor.parameters())


def test_configs_keep_the_official_hyper_parameters():
    from mmengine.config import Config

    from tta_seg.utils.paths import REPO_ROOT
    cfg = Config.fromfile(f'{REPO_ROOT}/configs/hybrid_tta/'
                          'hybrid-tta_segformer-b5_cityscapes-to-acdc.py')
    a = cfg.adapter
    assert (a.adapter_hidden, a.mask_patch, a.mask_ratio, a.recon_weight,
            a.decoder_channels, a.ddsd_window, a.ddsd_momentum,
            a.ddsd_margin, a.alpha_teacher, a.restart_every) == (
        5, 32, 0.6, 0.3, 768, 10, 0.999, 0.1, 0.999, None)
    assert a.optim_wrapper.optimizer.lr == pytest.approx(7.5e-5)
    assert cfg.test_cfg.rounds == 10


def test_a_non_finite_loss_leaves_ddsd_untouched(monkeypatch):
    adapter = hybrid('bn')
    adapter.prepare()
    run_steps(adapter, steps=1)
    tau, seen = float(adapter.detector.tau), int(adapter.detector.seen)

    def nan_losses(inputs, labels):
        nan = torch.tensor(float('nan'), requires_grad=True)
        return dict(loss_seg=nan, loss_recon=nan * 0)

    monkeypatch.setattr(adapter, 'masked_losses', nan_losses)
    run_steps(adapter, steps=1)
    assert adapter.counters['skipped_updates'] == 1
    assert float(adapter.detector.tau) == tau
    assert int(adapter.detector.seen) == seen


def test_student_learns_on_the_masked_image_from_the_teacher_labels(
        monkeypatch):
    """The labels are the teacher's argmax of the unmasked image; the
    segmentation loss is the student's on the masked image, the
    reconstruction term 0.3 x the masked L1 of the decoder's image."""
    import torch.nn.functional as F

    import tta_seg.adapters.hybrid_tta as module
    adapter = hybrid('ln', recon_weight=0.3)
    adapter.prepare()
    data = adapter.segmentor.data_preprocessor(make_batch(seed=0), False)
    inputs, metas = data['inputs'], [s.metainfo for s in
                                     data['data_samples']]
    with torch.no_grad():
        teacher_labels = adapter.teacher.inference(inputs, metas).argmax(1)
    seen = {}
    real = adapter.masked_losses

    def spy(x, labels):
        seen['inputs'], seen['labels'] = x, labels
        return real(x, labels)

    monkeypatch.setattr(adapter, 'masked_losses', spy)
    adapter.forward_and_adapt(inputs, metas)
    assert torch.equal(seen['inputs'], inputs)
    assert torch.equal(seen['labels'], teacher_labels)

    mask = torch.zeros(inputs.shape[0], *inputs.shape[-2:], dtype=torch.bool)
    mask[:, :16, :16] = True
    monkeypatch.setattr(module, 'patch_mask', lambda *a, **k: mask)
    seg = adapter.segmentor
    with torch.no_grad():
        losses = real(inputs, teacher_labels)
        feats = masked_features(seg, inputs, mask, adapter.mask_token)
        plain = seg.extract_feat(inputs)

        def ce(f):
            logits = F.interpolate(seg.decode_head(f),
                                   size=teacher_labels.shape[-2:],
                                   mode='bilinear', align_corners=False)
            return F.cross_entropy(logits, teacher_labels)

        recon = adapter.decoder(feats, inputs.shape[-2:])
    torch.testing.assert_close(losses['loss_seg'], ce(feats))
    assert not torch.allclose(ce(feats), ce(plain))  # the mask matters
    torch.testing.assert_close(losses['loss_recon'],
                               0.3 * masked_l1(recon, inputs, mask))


def test_one_update_per_batch():
    with pytest.raises(ValueError, match='steps must be 1'):
        hybrid('bn', steps=2)
