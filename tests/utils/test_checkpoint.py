"""Source weights load safely; unsafe files are refused with the flag name."""
import collections

import numpy as np
import pytest
import torch

from tests.tiny import tiny_segmentor_cfg
from tta_seg.registry import MODELS
from tta_seg.utils.checkpoint import (UNSAFE_FLAG, UnsafeCheckpointError,
                                      load_source_weights)


@pytest.fixture
def segmentor():
    return MODELS.build(tiny_segmentor_cfg('bn'))


def perturbed_state(model):
    return {k: v + 1 if v.is_floating_point() else v
            for k, v in model.state_dict().items()}


def assert_loaded(model, state):
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_plain_and_mmseg_style_checkpoints(segmentor, tmp_path):
    state = perturbed_state(segmentor)
    torch.save(state, tmp_path / 'plain.pth')
    load_source_weights(segmentor, str(tmp_path / 'plain.pth'))
    assert_loaded(segmentor, state)
    # official zoo files: {'meta': {...}, 'state_dict': {...}}, and 'module.'
    wrapped = {'module.' + k: v + 1 if v.is_floating_point() else v
               for k, v in state.items()}
    wrapped['module.aux.extra'] = torch.zeros(1)  # not in the model: skipped
    torch.save(dict(meta=dict(iter=80000, env='x'), state_dict=wrapped),
               tmp_path / 'zoo.pth')
    load_source_weights(segmentor, str(tmp_path / 'zoo.pth'))
    assert_loaded(segmentor, {k.replace('module.', ''): v
                              for k, v in wrapped.items()})


def test_pickled_objects_are_refused_unless_opted_in(segmentor, tmp_path):
    state = perturbed_state(segmentor)
    ckpt = dict(state_dict=state,
                meta=dict(hub=collections.Counter(a=1),
                          scalar=np.float64(1.0)))
    torch.save(ckpt, tmp_path / 'runner.pth')
    with pytest.raises(UnsafeCheckpointError, match=UNSAFE_FLAG):
        load_source_weights(segmentor, str(tmp_path / 'runner.pth'))
    load_source_weights(segmentor, str(tmp_path / 'runner.pth'),
                        allow_unsafe=True)
    assert_loaded(segmentor, state)


def test_missing_weights_and_files_are_errors(segmentor, tmp_path):
    state = perturbed_state(segmentor)
    state.pop('decode_head.conv_seg.weight')
    torch.save(state, tmp_path / 'partial.pth')
    with pytest.raises(KeyError, match='conv_seg'):
        load_source_weights(segmentor, str(tmp_path / 'partial.pth'))
    with pytest.raises(FileNotFoundError, match='nothing.pth'):
        load_source_weights(segmentor, str(tmp_path / 'nothing.pth'))


def test_float16_files_load_into_a_float32_model(segmentor, tmp_path):
    """Shipped weights are fp16 (tools/train.py --export-dtype float16)."""
    state = {k: v.half() if v.is_floating_point() else v
             for k, v in perturbed_state(segmentor).items()}
    torch.save(state, tmp_path / 'half.pth')
    load_source_weights(segmentor, str(tmp_path / 'half.pth'))
    for key, value in segmentor.state_dict().items():
        if value.is_floating_point():
            assert value.dtype == torch.float32, key
            assert torch.equal(value, state[key].float()), key
