"""Loading source weights safely.

Checkpoints are read with ``torch.load(weights_only=True)``: plain state
dicts and official mmseg 1.x model-zoo files (``{'meta', 'state_dict'}``)
load; a file that needs arbitrary unpickling (e.g. one written by mmengine's
Runner with ``HistoryBuffer`` objects in ``message_hub``) is refused with
:class:`UnsafeCheckpointError` unless the caller opts in explicitly
(``allow_unsafe=True``; ``--unsafe-checkpoint`` in the tools). Nothing
silently executes pickled code.
"""
import os
import pickle
from typing import Dict

import torch
from mmengine.logging import print_log
from torch import nn

UNSAFE_FLAG = '--unsafe-checkpoint'


class UnsafeCheckpointError(RuntimeError):
    """The checkpoint needs full unpickling and the caller did not opt in."""


def load_checkpoint_file(path: str, allow_unsafe: bool = False) -> dict:
    """Read a checkpoint file onto the CPU.

    Args:
        path (str): File path.
        allow_unsafe (bool): Fall back to ``weights_only=False`` (executes
            pickled code: only for files you trust).

    Returns:
        dict: The loaded object (a dict for every supported format).
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f'checkpoint not found: {path}')
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as err:
        if not allow_unsafe:
            reason = str(err).strip().splitlines()[0]
            raise UnsafeCheckpointError(
                f'{path} cannot be loaded with weights_only=True because it '
                f'contains pickled Python objects ({reason}). If you trust '
                f'this file, pass {UNSAFE_FLAG} to the tool (config: '
                'model.allow_unsafe_checkpoint=True), or re-save it as a '
                'plain state dict.') from err
        print_log(f'loading {path} with weights_only=False (opted in)',
                  logger='current')
        return torch.load(path, map_location='cpu', weights_only=False)


def extract_state_dict(ckpt: dict) -> Dict[str, torch.Tensor]:
    """Return the model state dict of a plain or mmengine-style checkpoint."""
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not all(
            isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError('checkpoint holds no state dict of tensors')
    prefix = 'module.'
    return {(k[len(prefix):] if k.startswith(prefix) else k): v
            for k, v in state.items()}


def load_source_weights(model: nn.Module,
                        path: str,
                        allow_unsafe: bool = False) -> None:
    """Load source weights into ``model``.

    Keys the model lacks (e.g. an auxiliary head dropped from a test config)
    are reported and skipped; weights the model needs but the file lacks are
    an error, because adapting a half-random model is never intended.
    """
    state = extract_state_dict(load_checkpoint_file(path, allow_unsafe))
    result = model.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys
               if not k.endswith('num_batches_tracked')]
    if missing:
        raise KeyError(f'{path} lacks {len(missing)} weights of the model, '
                       f'e.g. {missing[:5]}: wrong checkpoint for this model '
                       'config?')
    if result.unexpected_keys:
        print_log(f'ignored {len(result.unexpected_keys)} checkpoint keys '
                  f'not in the model, e.g. {result.unexpected_keys[:3]}',
                  logger='current')
    print_log(f'loaded source weights from {path}', logger='current')
