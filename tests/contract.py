"""The adapter contract, shared by the contract tests and method tests:
every method config's adapter runs on the tiny segmentors, keeps output
shapes, stays finite, starts its teacher at the source, resets exactly and
is label-blind. The method configs are parsed once, on first use (parsing
all of them takes seconds), and adapters that are the same in several
configs are tested once."""
import copy
import functools
import glob
import json
import os.path as osp
from typing import Dict, List, Tuple

import pytest
import torch
from mmengine.config import Config

from tests.tiny import NUM_CLASSES, make_batch, tiny_segmentor_cfg
from tta_seg.adapters import BaseAdapter
from tta_seg.registry import MODELS
from tta_seg.utils.paths import REPO_ROOT

STEPS = 3


@functools.lru_cache(maxsize=None)
def parsed_config(path: str) -> Config:
    """``Config.fromfile``, once per file per session (callers copy it
    before changing it)."""
    return Config.fromfile(path)


@functools.lru_cache(maxsize=None)
def method_configs() -> Tuple[Tuple[str, dict], ...]:
    """``(config path, adapter dict)`` of every method config."""
    # the tuned presets (``*-tuned_*``) after the faithful configs, so a
    # case is named after its faithful config
    paths = sorted(glob.glob(osp.join(REPO_ROOT, 'configs', '*', '*.py')),
                   key=lambda p: ('-tuned_' in osp.basename(p), p))
    out = []
    for path in paths:
        if '_base_' in path:
            continue
        cfg = parsed_config(path)
        if 'adapter' in cfg:
            out.append((osp.relpath(path, REPO_ROOT), cfg.adapter.to_dict()))
    return tuple(out)


def _without_rates(cfg: dict) -> dict:
    """``cfg`` without its optimizer's learning rates (nor SAM's base
    optimizer's): a rate changes no contract, and the tuned presets
    differ from the faithful configs in their rate only."""
    cfg = copy.deepcopy(cfg)
    optimizer = (cfg.get('optim_wrapper') or {}).get('optimizer') or {}
    for opt in (optimizer, optimizer.get('base_optimizer') or {}):
        opt.pop('lr', None)
    return cfg


def distinct_adapters(adapter_type: str) -> Dict[str, dict]:
    """The different adapter dicts of one type among the method configs,
    learning rates aside (:func:`_without_rates`), each under the first
    config that has it."""
    out, seen = {}, set()
    for path, cfg in method_configs():
        key = json.dumps(_without_rates(cfg), sort_keys=True, default=str)
        if cfg['type'] == adapter_type and key not in seen:
            seen.add(key)
            out[path] = cfg
    return out


def configured_types() -> List[str]:
    """Adapter types the method configs use, from the file texts (cheap,
    for test ids at collection; checked against the parsed configs)."""
    import re
    types = set()
    for path in glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'),
                          recursive=True):
        with open(path) as f:
            types.update(re.findall(r"type='([A-Za-z]+)'", f.read()))
    return sorted(t for t in types if _is_adapter(t))


def _is_adapter(name: str) -> bool:
    import tta_seg.adapters  # noqa: F401  (registers the built-in ones)
    cls = MODELS.get(name)
    return isinstance(cls, type) and issubclass(cls, BaseAdapter)


def build(adapter_cfg, kind):
    cfg = copy.deepcopy(adapter_cfg)
    for key in [k for k in cfg if k.endswith('checkpoint')]:
        cfg.pop(key)  # shipped weights of the embedded models, not tiny
    cfg['segmentor'] = tiny_segmentor_cfg(kind)
    return MODELS.build(cfg)


def run_steps(adapter, steps=STEPS, **batch_kwargs):
    torch.manual_seed(0)
    outs = []
    for i in range(steps):
        out = adapter.test_step(make_batch(seed=i, **batch_kwargs))
        outs.append(torch.stack([o.seg_logits.data for o in out]))
    return outs


#: adapter type -> what it needs (in its build-time error) that the
#: 'plain' segmentor lacks; every other adapter must run on it.
NEEDS_OF_PLAIN = {
    'EcoTTA': 'EncoderDecoder',  # rebuilds the encoder into parts
    'DIGA': 'classifier_name',  # hooks the final classifier by name
    'SVDP': 'classifier_name',  # MC dropout before the final classifier
    'HybridTTA': 'EncoderDecoder',  # adapters on MiT / ResNet blocks
}


def build_or_refusal(adapter_cfg, kind):
    """The prepared adapter, or None after checking a build-time refusal."""
    needs = NEEDS_OF_PLAIN.get(adapter_cfg['type']) if kind == 'plain' \
        else None
    if needs is None:
        adapter = build(adapter_cfg, kind)
        adapter.prepare()
        return adapter
    with pytest.raises((TypeError, ValueError), match=needs):
        build(adapter_cfg, kind).prepare()
    return None


def check_contract(adapter):
    """Runs, shapes, finiteness, teacher at source, exact reset, blindness."""
    assert isinstance(adapter, BaseAdapter)
    adapter.prepare()
    source = {k: v.clone() for k, v in adapter.state_dict().items()}
    teacher = getattr(adapter, 'teacher', None)
    if teacher is not None:  # mean-teacher methods start at the source
        for (_, t), (_, s) in zip(teacher.state_dict().items(),
                                  adapter.segmentor.state_dict().items()):
            assert torch.equal(t, s)

    first = run_steps(adapter)
    for out in first:
        assert out.shape == (2, NUM_CLASSES, 32, 48)
        assert torch.isfinite(out).all()
    for param in adapter.parameters():
        assert torch.isfinite(param).all()

    # exact reset: same state, and the same outputs as the first run
    adapter.reset()
    for key, value in adapter.state_dict().items():
        assert torch.equal(value, source[key]), key
    again = run_steps(adapter)
    for a, b in zip(first, again):
        torch.testing.assert_close(a, b)

    # label-blind: without labels the stream gives identical outputs
    adapter.reset()
    blind = run_steps(adapter, with_labels=False)
    for a, b in zip(first, blind):
        torch.testing.assert_close(a, b)
