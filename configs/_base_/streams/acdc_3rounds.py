# The CoTTA protocol shortened to 3 rounds (as reported by ViDA,
# Continual-MAE, SVDP, Hybrid-TTA).
_base_ = ['./acdc_10rounds.py']
test_cfg = dict(rounds=3)
