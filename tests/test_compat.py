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
