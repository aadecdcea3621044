"""Source weights load safely; unsafe files are refused with the flag name;
damaged files are named as such, without the flag."""
import collections
import os

import numpy as np
import pytest
import torch

from tests.tiny import tiny_segmentor_cfg
from tta_seg.registry import MODELS
from tta_seg.utils.checkpoint import (UNSAFE_FLAG, CheckpointError,
                                      UnsafeCheckpointError,
                                      extract_state_dict,
                                      load_checkpoint_file,
                                      load_source_weights, load_state_file)


class NotAllowed:
    """A module-level class: torch's weights-only unpickler refuses it."""


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


def write_damaged(kind, folder):
    """A file of the given kind of damage; returns (path, expected words).
    """
    path = folder / f'{kind}.pth'
    state = {'weight': torch.arange(4096.0), 'step': 3}
    if kind == 'empty':
        path.write_bytes(b'')
        return path, 'empty'
    if kind == 'random':
        # 0x80 would be a pickle's first byte; the other formats are tested
        path.write_bytes(b'\x13' + os.urandom(4095))
        return path, 'not a torch file'
    if kind == 'text':
        path.write_text('model: deeplabv3\nweights: see README\n')
        return path, 'text file'
    torch.save(state, path, _use_new_zipfile_serialization=(
        kind == 'truncated_zip'))
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    return path, 'truncated'


DAMAGE = ['empty', 'random', 'text', 'truncated_zip', 'truncated_legacy']


@pytest.mark.parametrize('kind', DAMAGE)
@pytest.mark.parametrize('allow_unsafe', [False, True])
def test_damaged_checkpoint_names_path_and_problem(tmp_path, kind,
                                                   allow_unsafe):
    path, words = write_damaged(kind, tmp_path)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint_file(str(path), allow_unsafe=allow_unsafe)
    message = str(err.value)
    assert str(path) in message and words in message
    assert UNSAFE_FLAG not in message and 'weights_only' not in message
    assert not isinstance(err.value, UnsafeCheckpointError)


@pytest.mark.parametrize('kind', DAMAGE)
def test_damaged_resume_state_says_restart_without_resume(tmp_path, kind):
    path, words = write_damaged(kind, tmp_path)
    with pytest.raises(CheckpointError) as err:
        load_state_file(str(path))
    message = str(err.value)
    assert str(path) in message and words in message
    assert 'resume state' in message and 'without --resume' in message
    assert UNSAFE_FLAG not in message


def test_disallowed_global_needs_the_flag(tmp_path):
    path = tmp_path / 'custom.pth'
    torch.save(dict(state_dict={'w': torch.ones(2)}, meta=NotAllowed()),
               path)
    with pytest.raises(UnsafeCheckpointError) as err:
        load_checkpoint_file(str(path))
    message = str(err.value)
    assert str(path) in message and UNSAFE_FLAG in message
    assert 'NotAllowed' in message
    loaded = load_checkpoint_file(str(path), allow_unsafe=True)
    assert isinstance(loaded['meta'], NotAllowed)
    # tta_seg's own state files never need unpickling: damaged, no flag
    with pytest.raises(CheckpointError) as err:
        load_state_file(str(path))
    assert str(path) in str(err.value)
    assert UNSAFE_FLAG not in str(err.value)


def test_state_file_round_trip_and_non_dict(tmp_path):
    state = dict(adapter={'w': torch.ones(3)}, done=[[0, 'fog']],
                 rng=dict(seed=1))
    torch.save(state, tmp_path / 'resume_state.pth')
    loaded = load_state_file(str(tmp_path / 'resume_state.pth'))
    assert torch.equal(loaded['adapter']['w'], state['adapter']['w'])
    assert loaded['done'] == [[0, 'fog']]
    torch.save([1, 2], tmp_path / 'list.pth')
    with pytest.raises(CheckpointError, match='holds a list, not a dict'):
        load_state_file(str(tmp_path / 'list.pth'))
    with pytest.raises(FileNotFoundError, match='absent.pth'):
        load_state_file(str(tmp_path / 'absent.pth'))


def test_state_dict_errors_name_the_path(tmp_path):
    with pytest.raises(ValueError) as err:
        extract_state_dict({'state_dict': {'w': 'not a tensor'}},
                           str(tmp_path / 'odd.pth'))
    assert str(tmp_path / 'odd.pth') in str(err.value)
    torch.save({'epoch': 3}, tmp_path / 'meta_only.pth')
    with pytest.raises(CheckpointError) as err:
        load_source_weights(torch.nn.Linear(2, 2),
                            str(tmp_path / 'meta_only.pth'))
    assert str(tmp_path / 'meta_only.pth') in str(err.value)


def flip_a_weight_byte(path) -> str:
    """Change one byte inside a tensor's data, keeping the file's size (a
    bit rot, a bad copy); return the name of the damaged zip entry."""
    import zipfile
    with zipfile.ZipFile(path) as archive:
        info = next(i for i in archive.infolist()
                    if '/data/' in i.filename and i.file_size >= 64)
    data = bytearray(path.read_bytes())
    # the entry's data follow its 30-byte local header, name and extra
    name_len = int.from_bytes(data[info.header_offset + 26:
                                   info.header_offset + 28], 'little')
    extra_len = int.from_bytes(data[info.header_offset + 28:
                                    info.header_offset + 30], 'little')
    at = info.header_offset + 30 + name_len + extra_len + 8
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))
    return info.filename


@pytest.mark.parametrize('loader', ['checkpoint', 'state'])
def test_changed_bytes_of_intact_size_are_refused_by_crc(tmp_path, loader):
    path = tmp_path / 'weights.pth'
    torch.save({'w': torch.arange(64, dtype=torch.float32)}, path)
    size = path.stat().st_size
    entry = flip_a_weight_byte(path)
    assert path.stat().st_size == size
    # torch itself reads the damaged file without a word
    assert not torch.equal(torch.load(path, weights_only=True)['w'],
                           torch.arange(64, dtype=torch.float32))
    load = load_checkpoint_file if loader == 'checkpoint' else \
        load_state_file
    with pytest.raises(CheckpointError) as err:
        load(str(path))
    message = str(err.value)
    assert str(path) in message and entry in message and 'CRC' in message
    assert UNSAFE_FLAG not in message


def test_sha256_of_the_summary_beside_a_file_is_checked(tmp_path):
    import json
    from tta_seg.utils.io import file_sha256
    path = tmp_path / 'model.pth'
    # a legacy pickle has no CRCs: only the recorded digest can tell
    torch.save({'w': torch.ones(8)}, path,
               _use_new_zipfile_serialization=False)
    summary = tmp_path / 'model.summary.json'
    summary.write_text(json.dumps(dict(sha256=file_sha256(str(path)))))
    assert torch.equal(load_checkpoint_file(str(path))['w'], torch.ones(8))
    data = bytearray(path.read_bytes())
    data[-20] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError) as err:
        load_checkpoint_file(str(path))
    assert str(path) in str(err.value) and str(summary) in str(err.value)
    assert 'sha256' in str(err.value)
