_base_ = [
    '../_base_/models/segformer_mit-b0_synthetic.py', '../_base_/streams/synthetic_3rounds.py',
    '../_base_/default_runtime.py',
    '../_base_/adapters/sar_ln.py'
]
# SAR (Niu et al., ICLR 2023) with the official code's hyper-parameters
# (margin 0.4 ln C, SAM rho 0.05, SGD momentum 0.9, loss EMA 0.9, recovery
# below 0.2 nats, test-batch statistics in the decode head's BN) and lr 1e-3,
# SAR's batch-64 ViT value (its batch-1 rule gives 3.125e-5; not tuned): see
# configs/_base_/adapters/sar_ln.py and tta_seg/adapters/sar.py.
