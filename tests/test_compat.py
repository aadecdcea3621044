"""mmcv-lite: mmseg imports; a compiled op fails clearly when called."""
import pytest
import torch

from tta_seg.compat import MissingCompiledOpError, has_mmcv_ops


@pytest.mark.skipif(has_mmcv_ops(), reason='full mmcv with ops installed')
def test_compiled_op_raises_a_clear_error():
    import mmseg.models  # noqa: F401  (would fail without the stub)
    from mmcv.ops import sigmoid_focal_loss
    with pytest.raises(MissingCompiledOpError, match='mmcv-lite'):
        sigmoid_focal_loss(torch.zeros(2, 3), torch.zeros(2).long(), 2.0,
                           0.25, None, 'mean')


def test_external_config_index_is_read_once_and_unchanged(monkeypatch):
    """``mmseg::`` bases: each model-index file is parsed once per
    process, and the look-up gives what mmengine's own reading gives."""
    import os.path as osp

    import mmseg
    import yaml
    from mmengine.config import utils

    import tta_seg  # noqa: F401  (installs the cache)
    assert utils.load._tta_seg_cached
    package = osp.dirname(mmseg.__file__)
    name = 'segformer/segformer_mit-b0_8xb2-160k_ade20k-512x512.py'
    cached = utils._get_cfg_metainfo(package, name)  # warms the cache
    parses = []
    real_load = yaml.load

    def counting(*args, **kwargs):
        parses.append(1)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(yaml, 'load', counting)
    assert utils._get_cfg_metainfo(package, name) == cached
    assert parses == []  # served from the cache
    monkeypatch.setattr(utils, 'load', utils.load.__wrapped__)
    assert utils._get_cfg_metainfo(package, name) == cached  # uncached
    assert len(parses) > 10  # mmengine alone reads the whole index
