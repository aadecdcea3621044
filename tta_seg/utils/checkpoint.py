"""Loading source weights and saved states safely, with errors that say
what is wrong.

Files are read with ``torch.load(weights_only=True)``: plain state dicts
and official mmseg 1.x model-zoo files (``{'meta', 'state_dict'}``) load.
Two kinds of failure are told apart:

* :class:`CheckpointError`: the file is not a usable torch file (empty,
  text, another format, truncated or damaged). The message names the path
  and the problem and never suggests unpickling, which could not help.
* :class:`UnsafeCheckpointError`: a readable torch file whose pickle
  refers to classes or functions outside torch's weights-only allowlist
  (e.g. one written by mmengine's Runner with ``HistoryBuffer`` objects in
  ``message_hub``). It is refused unless the caller opts in explicitly
  (``allow_unsafe=True``; ``--unsafe-checkpoint`` in the tools). Nothing
  silently executes pickled code.

Before any load the bytes are verified, since ``torch.load`` checks
none: every zip member against its CRC-32, and a file with a
``<stem>.summary.json`` beside it (the shipped models) against the sha256
recorded there. A file whose bytes changed but whose size did not is a
:class:`CheckpointError` naming the file and the damaged entry.

:func:`load_state_file` reads the files tta_seg writes itself (the
continual loop's ``resume_state.pth``), which never need unpickling.
"""
import codecs
import json
import os
import pickle
import re
import zipfile
from typing import Dict, Optional, Sequence, Union

import torch
from mmengine.logging import print_log
from torch import nn

UNSAFE_FLAG = '--unsafe-checkpoint'
#: ``torch.save`` writes zip archives (local file header magic) holding a
#: ``<archive>/data.pkl`` record; legacy files are pickles, which start
#: with the PROTO opcode.
ZIP_MAGIC, TORCH_RECORD, PICKLE_PROTO = b'PK\x03\x04', 'data.pkl', 0x80
#: Beside a shipped ``X.pth``: ``X.summary.json`` with the file's sha256.
SUMMARY_SUFFIX = '.summary.json'
#: A Git LFS pointer checked out instead of the file it points to.
LFS_MAGIC = b'version https://git-lfs'
#: Bytes read to recognise the format and quoted in error messages.
HEADER_BYTES, QUOTED_BYTES = 64, 24
#: Phrases of torch's weights-only unpickler when it refuses a class or
#: function of an otherwise readable pickle (torch 2.x wording). Anything
#: else it rejects (an unknown opcode, a cut stream) is damage.
REFUSED_GLOBAL = ('Unsupported global', 'was not an allowed global',
                  'whose module', 'Can only create new object',
                  'Can only build', 'Trying to call reduce for')
#: Where torch's weights-only messages quote the unpickler's own error.
WEIGHTS_ONLY_MARK = 'WeightsUnpickler error:'
SOURCE_ADVICE = ('Download or export it again, or pass another '
                 '--checkpoint.')
STATE_ADVICE = ('The file is damaged or truncated (e.g. the run was killed '
                'while writing it, or the disk was full). Restart the run '
                'without --resume, or restore the file from a backup.')


class CheckpointError(ValueError):
    """The file is not a usable torch file (empty, other format, damaged).
    """


class UnsafeCheckpointError(RuntimeError):
    """The checkpoint needs full unpickling and the caller did not opt in."""


class _RefusedGlobal(Exception):
    """Internal: the weights-only unpickler refused a class or function."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def load_checkpoint_file(path: str, allow_unsafe: bool = False) -> dict:
    """Read a checkpoint file onto the CPU.

    Args:
        path (str): File path.
        allow_unsafe (bool): Fall back to ``weights_only=False`` (executes
            pickled code: only for files you trust).

    Returns:
        dict: The loaded object (a dict for every supported format).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        CheckpointError: The file is not a readable torch file.
        UnsafeCheckpointError: The file needs full unpickling and
            ``allow_unsafe`` is False.
    """
    _verify(path, 'checkpoint', SOURCE_ADVICE)
    try:
        return _torch_load(path, True, 'checkpoint', SOURCE_ADVICE)
    except _RefusedGlobal as refused:
        if not allow_unsafe:
            raise UnsafeCheckpointError(
                f'{path} cannot be loaded with weights_only=True because it '
                f'contains pickled Python objects ({refused.reason}). If you '
                f'trust this file, pass {UNSAFE_FLAG} to the tool (config: '
                'model.allow_unsafe_checkpoint=True), or re-save it as a '
                'plain state dict.') from refused.__cause__
    print_log(f'loading {path} with weights_only=False (opted in)',
              logger='current')
    return _torch_load(path, False, 'checkpoint', SOURCE_ADVICE)


def load_state_file(path: str, what: str = 'resume state') -> dict:
    """Read a state dict file written by tta_seg (e.g. ``resume_state.pth``).

    Such files hold only tensors and plain Python values, so they are read
    with ``weights_only=True`` and never unpickled in full: a file that
    needs more was not written by tta_seg, and is reported as damaged.

    Args:
        path (str): File path.
        what (str): What the file holds, for error messages.

    Returns:
        dict: The saved state.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        CheckpointError: The file is empty, damaged, truncated or not a
            dict saved by ``torch.save``; the message names ``path``.
    """
    _verify(path, what, STATE_ADVICE)
    try:
        state = _torch_load(path, True, what, STATE_ADVICE)
    except _RefusedGlobal as refused:
        raise CheckpointError(_unusable(
            path, what, f'it holds Python objects that tta_seg never '
            f'writes ({refused.reason})', STATE_ADVICE)) from refused.__cause__
    if not isinstance(state, dict):
        raise CheckpointError(_unusable(
            path, what, f'it holds a {type(state).__name__}, not a dict',
            STATE_ADVICE))
    return state


def _verify(path: str, what: str, advice: str) -> None:
    """Once per load, before any unpickling: the file exists, its first
    bytes can start a torch file, its zip entries pass their CRC-32 and it
    matches the sha256 of a summary beside it.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        CheckpointError: Naming ``path`` and the problem.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{what} not found: {path}')
    problem = _format_problem(path) or _damage(path) or _digest_problem(path)
    if problem is not None:
        raise CheckpointError(_unusable(path, what, problem, advice))


def _torch_load(path: str, weights_only: bool, what: str,
                advice: str) -> object:
    """``torch.load`` on the CPU of a file :func:`_verify` passed; every
    failure names ``path``.

    Raises:
        CheckpointError: The file is not a readable torch file.
        _RefusedGlobal: Only with ``weights_only``: the unpickler refused
            a class or function of an otherwise readable file.
    """
    try:
        return torch.load(path, map_location='cpu', weights_only=weights_only)
    except Exception as err:  # EOFError, KeyError, zip errors, ...
        if (weights_only and isinstance(err, pickle.UnpicklingError)
                and _refused_global(str(err))):
            raise _RefusedGlobal(_refusal_reason(str(err))) from err
        raise CheckpointError(_unusable(path, what, _describe(err),
                                        advice)) from err


def _unusable(path: str, what: str, problem: str, advice: str) -> str:
    return f'{path} is not a usable {what}: {problem}. {advice}'


def _format_problem(path: str) -> Optional[str]:
    """Why the file's first bytes cannot start a torch file, if they can't.
    """
    if os.path.getsize(path) == 0:
        return 'the file is empty (0 bytes)'
    with open(path, 'rb') as file:
        head = file.read(HEADER_BYTES)
    if head.startswith(ZIP_MAGIC) or head[0] == PICKLE_PROTO:
        return None
    if head.startswith(LFS_MAGIC):
        return ('it is a Git LFS pointer, not the file it points to (run '
                '`git lfs pull`)')
    kind = 'a text file' if _is_text(head) else 'another format'
    return (f'it is {kind}, not a torch file (those are zip archives or '
            f'pickles); it starts with {head[:QUOTED_BYTES]!r}')


def _is_text(head: bytes) -> bool:
    # incremental: a character cut at the end of ``head`` is no error
    try:
        text = codecs.getincrementaldecoder('utf-8')().decode(head)
    except UnicodeDecodeError:
        return False
    return all(c.isprintable() or c.isspace() for c in text)


def _damage(path: str) -> Optional[str]:
    """What is wrong with a zip-format file, if anything: a missing or
    unreadable directory, or a member whose bytes fail their CRC-32.

    Run before every load: ``torch.load`` does not check the CRCs, so a
    file whose bytes changed but whose size did not would load silently
    with wrong weights.
    """
    with open(path, 'rb') as file:
        if file.read(len(ZIP_MAGIC)) != ZIP_MAGIC:
            return None  # legacy pickle: the exception tells more
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if not any(n == TORCH_RECORD or n.endswith('/' + TORCH_RECORD)
                       for n in names):
                return (f'it is a zip archive but not a torch file (no '
                        f'{TORCH_RECORD} among {len(names)} members)')
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError):
        # The zip directory sits at the end of the file: losing the end
        # (an interrupted write, a full disk) loses the directory.
        return ('the zip archive is truncated or damaged (its directory at '
                'the end of the file is missing or unreadable)')
    if bad is not None:
        return (f'the zip archive is damaged: its entry {bad} fails its '
                'CRC-32 check (its bytes changed after it was written)')
    return None


def _digest_problem(path: str) -> Optional[str]:
    """A mismatch with the sha256 that a ``<stem>.summary.json`` beside the
    file records (the shipped models; ``tta-seg train --export`` writes
    it), if any: this also covers legacy pickles, which carry no
    checksums."""
    summary = os.path.splitext(path)[0] + SUMMARY_SUFFIX
    if not os.path.isfile(summary):
        return None
    try:
        with open(summary) as file:
            expected = json.load(file).get('sha256')
    except (OSError, ValueError, AttributeError):
        return None  # not ours to judge: the weights are checked by CRC
    if not isinstance(expected, str):
        return None
    from .io import file_sha256
    actual = file_sha256(path)
    if actual != expected:
        return (f'its sha256 {actual[:12]}... differs from the '
                f'{expected[:12]}... recorded in {summary}: its bytes changed '
                'after it was written (or the file was replaced without '
                'its summary: export it again with tta-seg train --export)')
    return None


def _describe(err: Exception) -> str:
    """The problem behind a ``torch.load`` failure, without torch's advice
    to load with ``weights_only=False`` (useless for a damaged file)."""
    if isinstance(err, EOFError):
        return 'the data ends early (truncated file)'
    if isinstance(err, pickle.UnpicklingError):
        return (f'its pickle data is damaged or was not written by '
                f'torch.save ({_torch_reason(str(err))})')
    return f'torch.load failed with {type(err).__name__}: ' + _torch_reason(
        str(err))


def _refused_global(message: str) -> bool:
    return any(phrase in message for phrase in REFUSED_GLOBAL)


def _refusal_reason(message: str) -> str:
    """The refused class or function named in torch's long message."""
    match = re.search(r'GLOBAL (\S+)', message)
    if match is not None:
        return f'refused global {match.group(1)}'
    return _torch_reason(message)


def _torch_reason(message: str) -> str:
    """The unpickler's own line of a torch error, else its first line."""
    _, found, rest = message.partition(WEIGHTS_ONLY_MARK)
    lines = [line.strip() for line in (rest if found else message)
             .splitlines() if line.strip()]
    return lines[0] if lines else 'no details'


def extract_state_dict(ckpt: dict,
                       path: Optional[str] = None) -> Dict[str, torch.Tensor]:
    """Return the model state dict of a plain or mmengine-style checkpoint.

    Args:
        ckpt (dict): A loaded checkpoint.
        path (str, optional): Its file, named in error messages.

    Raises:
        CheckpointError: ``ckpt`` holds no dict of tensors.
    """
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not all(
            isinstance(v, torch.Tensor) for v in state.values()):
        source = f'checkpoint {path}' if path else 'checkpoint'
        found = (f'keys {sorted(map(str, ckpt))[:5]}' if isinstance(
            ckpt, dict) else f'a {type(ckpt).__name__}')
        raise CheckpointError(
            f'{source} holds no state dict of tensors (found {found}); '
            'expected a state dict or {"state_dict": ..., "meta": ...}.')
    prefix = 'module.'
    return {(k[len(prefix):] if k.startswith(prefix) else k): v
            for k, v in state.items()}


def load_source_weights(model: nn.Module,
                        path: Union[str, Sequence[str]],
                        allow_unsafe: bool = False) -> None:
    """Load source weights into ``model``.

    Keys the model lacks (e.g. an auxiliary head dropped from a test config)
    are reported and skipped; weights the model needs but the file lacks are
    an error, because adapting a half-random model is never intended.

    ``path`` may also be several files that together hold the weights (e.g.
    a source model and an adapter's warmed-up blocks); they are merged in
    order, a later file's key replacing an earlier one's.
    """
    paths = [path] if isinstance(path, str) else list(path)
    state = {}
    for file in paths:
        state.update(extract_state_dict(
            load_checkpoint_file(file, allow_unsafe), file))
    name = paths[0] if len(paths) == 1 else \
        ' + '.join(paths) + ' together'
    result = model.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys
               if not k.endswith('num_batches_tracked')]
    if missing:
        raise KeyError(f'{name} lack{"s" if len(paths) == 1 else ""} '
                       f'{len(missing)} weights of the model, '
                       f'e.g. {missing[:5]}: wrong checkpoint for this model '
                       'config?')
    if result.unexpected_keys:
        print_log(f'ignored {len(result.unexpected_keys)} checkpoint keys '
                  f'not in the model, e.g. {result.unexpected_keys[:3]}',
                  logger='current')
    print_log(f'loaded source weights from {name}', logger='current')
