_base_ = ['./hybrid-tta_segformer-b5_cityscapes-to-acdc.py']
# Hybrid-TTA on the 3-round Cityscapes -> ACDC protocol.
test_cfg = dict(rounds=3)
