# SegFormer MiT-B0 (LayerNorm backbone, one BN in the head) for the embedded
# synthetic benchmark. Trained by us from scratch (configs/source/), shipped
# as a plain state dict.
_base_ = ['mmseg::_base_/models/segformer_mit-b0.py']
model = dict(
    decode_head=dict(norm_cfg=dict(type='BN', requires_grad=True)))
source_checkpoint = 'checkpoints/synthetic/segformer_mit-b0_synthetic.pth'
